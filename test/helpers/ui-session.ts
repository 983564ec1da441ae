// Signing in to the web UI without a browser, as its form does: GET the form
// (its cookie and CSRF field), POST them back with the credentials.
export interface UiSignIn {
  status: number;
  /** `nora_session=<id>`, to send back; undefined when refused */
  cookie?: string;
  /** the Set-Cookie header as the server sent it */
  setCookie?: string;
}

export async function uiSignIn(url: string, user: string, pw: string): Promise<UiSignIn> {
  const form = await fetch(`${url}/ui/login`);
  const loginCookie = form.headers.get('set-cookie')!.split(';')[0]!;
  const csrf = /name="csrf" value="([^"]+)"/.exec(await form.text())![1]!;
  const res = await fetch(`${url}/ui/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie: loginCookie, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ csrf, username: user, password: pw, next: '/ui/' }).toString(),
  });
  await res.arrayBuffer();
  const setCookie = res.headers.get('set-cookie') ?? undefined;
  return { status: res.status, setCookie, cookie: setCookie?.split(';')[0] };
}
