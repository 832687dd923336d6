// The one time source of the web apps. Everything that depends on time (the
// 60-second code step, countdowns, pass and certificate expiry) reads now(),
// so a browser test controls time by controlling the page's Date.now.

/** now returns the current time in milliseconds since the Unix epoch. */
export function now() {
  return Date.now();
}
