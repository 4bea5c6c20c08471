/** The body cannot be decoded as the OTLP message it claims to be: 400, never retried. */
export class DecodeError extends Error {
	constructor(
		/** Where: a JSON path (`resourceSpans[0].scopeSpans[1]`) or a protobuf message/field name. */
		readonly field: string,
		readonly description: string,
		/** The whole answer's message, when "cannot be decoded: <field>: <description>" would mislead. */
		readonly summary?: string,
	) {
		super(`${field}: ${description}`);
		this.name = "DecodeError";
	}
}

/** The database could not take the write (or the retention read): 503, retry later. */
export class StorageUnavailable extends Error {
	constructor(cause: unknown) {
		super("The database cannot take the write right now.", { cause });
		this.name = "StorageUnavailable";
	}
}
