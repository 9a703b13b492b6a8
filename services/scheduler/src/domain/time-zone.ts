/**
 * Whether `name` is an IANA time zone this runtime knows. Offsets such as `+05:30` are refused
 * although newer ECMA-402 accepts them: a fixed offset has no DST rules, which is exactly what
 * a named zone is for, and `UTC` already covers the common fixed case.
 */
export function isIanaTimeZone(name: string): boolean {
  if (!/^[A-Za-z][A-Za-z0-9_+\-/]{0,63}$/.test(name)) return false;
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: name });
    return true;
  } catch {
    return false;
  }
}
