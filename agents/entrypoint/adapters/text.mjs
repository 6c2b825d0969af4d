// @ts-check
// Agent text made fit for one log line.

/** `text` on one line, cut to `max` characters. */
export function oneLine(/** @type {unknown} */ text, max = 300) {
  const flat = String(text ?? "").replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}
