/**
 * JSON.parse for stored attribute maps, keeping integers beyond ±2^53 exact. OTLP int64 attributes
 * are stored as JSON numbers; a plain JSON.parse would round 9007199254740993 to …992. Such an
 * integer comes back as its decimal string, as OTLP/JSON writes int64 values (docs/otlp.md).
 * Numbers are quoted in the text before parsing, outside strings only, so no value changes meaning.
 */
export function parseJsonExact(text: string): unknown {
	return JSON.parse(quoteUnsafeIntegers(text));
}

const DIGIT = /[0-9]/;

export function quoteUnsafeIntegers(text: string): string {
	// Fast path: no run of 16+ digits, no integer that could be unsafe.
	if (!/\d{16}/.test(text)) return text;
	let out = "";
	let i = 0;
	while (i < text.length) {
		const c = text[i] as string;
		if (c === '"') {
			// Copy a string as it is, escapes included.
			let j = i + 1;
			while (j < text.length && text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
			out += text.slice(i, j + 1);
			i = j + 1;
			continue;
		}
		if (c === "-" || DIGIT.test(c)) {
			let j = i + 1;
			while (j < text.length && /[0-9.eE+-]/.test(text[j] as string)) j++;
			const token = text.slice(i, j);
			const integer = /^-?\d+$/.test(token);
			out += integer && !Number.isSafeInteger(Number(token)) ? `"${token}"` : token;
			i = j;
			continue;
		}
		out += c;
		i++;
	}
	return out;
}
