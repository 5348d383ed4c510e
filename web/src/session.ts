import { signal } from "./signal.ts";
import { setCsrf } from "./api.ts";

// Who is signed in, for every page; filled from GET /auth/session.

export interface Me {
  id: string;
  username: string;
  email: string | null;
  role: "admin" | "user";
  plan: string;
  verified: boolean;
  theme: string;
  language: string;
}

export const me = signal<Me | null | undefined>(undefined);

export function signedIn(answer: { user: Me; csrf_token: string }) {
  setCsrf(answer.csrf_token);
  me.set(answer.user);
  applyTheme(answer.user.theme);
}

export function signedOut() {
  setCsrf("");
  me.set(null);
}

/** light, dark or system (anything else): the page follows the OS setting. */
export function applyTheme(theme: string) {
  const t = theme === "light" || theme === "dark" ? theme : "system";
  document.documentElement.dataset.theme = t;
  try {
    localStorage.setItem("imgd-theme", t);
  } catch {}
}
