// The Turnstile lets at most `slice` callers through per event-loop
// iteration, in arrival order (what keeps a burst of requests from holding
// the loop while timers and other clients wait).
import t from 'tap';
import { Turnstile } from '../src/main/turnstile.js';

t.test('a burst goes through a slice per loop iteration, in order', async (t) => {
  const gate = new Turnstile(4);
  const order: number[] = [];
  const perIteration = new Map<number, number>();
  // A self-re-arming immediate numbers the loop iterations (one check phase each).
  let iteration = 0;
  let counting = true;
  const count = () => {
    iteration++;
    if (counting) setImmediate(count);
  };
  setImmediate(count);
  for (let i = 0; i < 10; i++) {
    gate.enter(() => {
      order.push(i);
      perIteration.set(iteration, (perIteration.get(iteration) ?? 0) + 1);
    });
  }
  t.same(order, [0, 1, 2, 3], 'the first slice runs at once');
  await new Promise((r) => setTimeout(r, 20));
  counting = false;
  t.same(order, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 'everyone got through, in order');
  const sizes = [...perIteration.values()];
  t.ok(sizes.every((n) => n <= 4), `no iteration let more than the slice through (${sizes.join(',')})`);
  t.ok(sizes.length >= 3, 'the burst spread over at least 3 iterations');
});

t.test('pass() resolves in order; a lone caller is not delayed a turn', async (t) => {
  const gate = new Turnstile(2);
  const seen: string[] = [];
  await Promise.all(['a', 'b', 'c', 'd', 'e'].map((x) => gate.pass().then(() => seen.push(x))));
  t.same(seen, ['a', 'b', 'c', 'd', 'e']);
  await new Promise((r) => setImmediate(r));
  let ran = false;
  gate.enter(() => (ran = true));
  t.ok(ran, 'runs synchronously when the turn has room');
});
