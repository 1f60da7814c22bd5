/**
 * String helpers for attacker-controlled text (mail, API input) where the obvious regex is super-linear: `/[…]+$/`
 * tries the run at every position of a long run of those characters followed by another one (quadratic).
 */

/** `s` without the trailing characters (UTF-16 units) that `strip` accepts. Linear. */
export function trimEndWhere(s: string, strip: (char: string) => boolean): string {
  let end = s.length;
  while (end > 0 && strip(s[end - 1]!)) end--;
  return s.slice(0, end);
}
