/** Variable names whose values are secret whatever they look like. */
const SECRET_NAME = /SECRET|PASSWORD|PASSWD|TOKEN|PRIVATE_KEY|API_KEY|CREDENTIAL/i;

/** Shortest value worth scrubbing: replacing "1" everywhere would only garble the message. */
const MIN_SECRET_LENGTH = 4;

/**
 * The secret strings among `env`'s values: every value of a secret-named variable, and the
 * user-info part of any value that is a URL with credentials (`postgres://u:pw@host/db`).
 */
export function secretsIn(env: Readonly<Record<string, string | undefined>>): string[] {
  const secrets = new Set<string>();
  for (const [name, value] of Object.entries(env)) {
    if (!value) continue;
    if (SECRET_NAME.test(name)) secrets.add(value);
    for (const part of value.split(",")) {
      const credentials = urlCredentials(part.trim());
      for (const credential of credentials) secrets.add(credential);
    }
  }
  return [...secrets].filter((s) => s.length >= MIN_SECRET_LENGTH).sort((a, b) => b.length - a.length);
}

function urlCredentials(value: string): string[] {
  if (!value.includes("@") || !value.includes("://")) return [];
  // The whole `user:password@` section, found by hand so that even a URL that `new URL` rejects
  // (the very thing a config error reports) does not leak its password.
  const raw = /^[a-z][a-z0-9+.-]*:\/\/([^@/]+)@/i.exec(value)?.[1];
  const found = raw ? [raw, ...raw.split(":").slice(1)] : [];
  try {
    const password = new URL(value).password;
    if (password) found.push(password, decodeURIComponent(password));
  } catch {
    // unparseable: the hand-found section above is all we can scrub
  }
  return found;
}

/** `url` with its password replaced by `***`, for logging where a service connects to. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return "[unparseable url]";
  }
}
