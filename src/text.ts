/**
 * A NUL character becomes U+FFFD, as an invalid UTF-8 byte does, in text the API stores from
 * bytes it does not refuse (OTLP strings, ping bodies): SQLite's text ends at a NUL, so
 * "check\0out" was stored whole and read back as "check". JSON request bodies refuse it instead
 * (src/http/json-body.ts).
 */
export function withoutNul(text: string): string {
	return text.includes("\0") ? text.replaceAll("\0", "\uFFFD") : text;
}
