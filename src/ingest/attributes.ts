/**
 * OTLP values (AnyValue) as stored: JSON text built directly, so 64-bit integers stay exact (a JSON
 * number SQLite's json_extract reads as an int64) and nothing goes through an intermediate object.
 */

/** Value types as bits, so schema discovery merges them with a bitwise OR in SQL. */
export const VALUE_TYPE_BITS = {
	string: 1,
	bool: 2,
	int: 4,
	double: 8,
	bytes: 16,
	array: 32,
	map: 64,
} as const;
export type ValueTypeName = keyof typeof VALUE_TYPE_BITS;

/** The names of the types in a `value_types` bit set (attribute_keys). */
export function valueTypeNames(mask: number): ValueTypeName[] {
	return (Object.keys(VALUE_TYPE_BITS) as ValueTypeName[]).filter((name) => mask & VALUE_TYPE_BITS[name]);
}

/** A decoded AnyValue. */
export interface DecodedValue {
	/** JSON text of the value (`null` for an empty AnyValue). */
	json: string;
	/** Its type bit; 0 for an empty value. */
	type: number;
	/** The string itself, for string values (a log body is stored as text, not JSON). */
	text: string | null;
	/** A short example for schema discovery; null for arrays, maps and empty values. */
	example: string | null;
}

export const EMPTY_VALUE: DecodedValue = { json: "null", type: 0, text: null, example: null };
const EXAMPLE_MAX_CHARS = 80;
/** Nested arrays and maps deeper than this are refused: no input may exhaust the stack. */
export const MAX_VALUE_DEPTH = 32;

const example = (text: string) => (text.length > EXAMPLE_MAX_CHARS ? text.slice(0, EXAMPLE_MAX_CHARS) : text);

export function stringValue(value: string): DecodedValue {
	return { json: JSON.stringify(value), type: VALUE_TYPE_BITS.string, text: value, example: example(value) };
}

export function boolValue(value: boolean): DecodedValue {
	const json = value ? "true" : "false";
	return { json, type: VALUE_TYPE_BITS.bool, text: null, example: json };
}

export function intValue(value: bigint | number): DecodedValue {
	const json = String(value);
	return { json, type: VALUE_TYPE_BITS.int, text: null, example: json };
}

/** Non-finite doubles are not JSON: stored as the strings proto3's JSON mapping uses. */
export function doubleJson(value: number): string {
	return Number.isFinite(value) ? String(value) : `"${String(value)}"`;
}

export function doubleValue(value: number): DecodedValue {
	return { json: doubleJson(value), type: VALUE_TYPE_BITS.double, text: null, example: String(value) };
}

export function bytesValue(base64: string): DecodedValue {
	return { json: JSON.stringify(base64), type: VALUE_TYPE_BITS.bytes, text: null, example: example(base64) };
}

export function arrayValue(items: DecodedValue[]): DecodedValue {
	return {
		json: `[${items.map((v) => v.json).join(",")}]`,
		type: VALUE_TYPE_BITS.array,
		text: null,
		example: null,
	};
}

export function mapValue(json: string): DecodedValue {
	return { json, type: VALUE_TYPE_BITS.map, text: null, example: null };
}

/** Receives every attribute of a resource, scope or record as it is decoded (schema discovery). */
export type AttributeObserver = (key: string, value: DecodedValue) => void;

/** How an attribute list is collected: who observes each kept attribute, and how many are kept. */
export interface AttributeOptions {
	observe?: AttributeObserver | undefined;
	/** Distinct keys kept; later new keys are dropped and counted (OTLP's dropped_attributes_count). */
	limit?: number | undefined;
	/** Called once per dropped attribute. */
	onDrop?: (() => void) | undefined;
}

/**
 * Builds one JSON object from a KeyValue list. Keys must be unique (OTLP); a repeated key keeps its
 * first value. Linear in the number of pairs: a hostile list of a million keys costs a million set
 * lookups, never a scan per key.
 */
export class AttributeObject {
	readonly #parts: string[] = [];
	readonly #keys = new Set<string>();
	readonly #limit: number;
	/** New keys refused because the limit was reached. */
	dropped = 0;

	constructor(readonly options: AttributeOptions = {}) {
		this.#limit = options.limit ?? Number.POSITIVE_INFINITY;
	}

	add(key: string, value: DecodedValue): void {
		if (this.#keys.has(key)) return;
		if (this.#keys.size >= this.#limit) {
			this.dropped++;
			this.options.onDrop?.();
			return;
		}
		this.#keys.add(key);
		this.#parts.push(`${JSON.stringify(key)}:${value.json}`);
		this.options.observe?.(key, value);
	}

	get size(): number {
		return this.#keys.size;
	}

	json(): string {
		return `{${this.#parts.join(",")}}`;
	}
}

/** The resource of a batch of records, with its promoted attributes. */
export interface ResourceInfo {
	attributes: string;
	service: string | null;
	host: string | null;
}

export interface ScopeInfo {
	name: string | null;
	version: string | null;
	/** JSON, or null when the scope has no attributes. */
	attributes: string | null;
}

export const EMPTY_SCOPE: ScopeInfo = { name: null, version: null, attributes: null };

/** Collects a resource's attributes and picks out `service.name` and `host.name`. */
export class ResourceBuilder {
	readonly object: AttributeObject;
	service: string | null = null;
	host: string | null = null;

	constructor(options: AttributeOptions = {}) {
		this.object = new AttributeObject({
			...options,
			observe: (key, value) => {
				if (key === "service.name" && value.text !== null) this.service = value.text;
				else if (key === "host.name" && value.text !== null) this.host = value.text;
				options.observe?.(key, value);
			},
		});
	}

	finish(): ResourceInfo {
		return { attributes: this.object.json(), service: this.service, host: this.host };
	}
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

export function toHex(bytes: Uint8Array): string {
	let out = "";
	for (let i = 0; i < bytes.length; i++) out += HEX[bytes[i] as number];
	return out;
}

/**
 * A trace or span id as stored: lower-case hex of exactly `size` bytes; "" when absent (empty);
 * null when invalid (wrong length, not hex, or all zeroes, which OTLP calls invalid).
 */
export function idFromBytes(bytes: Uint8Array, size: number): string | null {
	if (bytes.length === 0) return "";
	if (bytes.length !== size) return null;
	const hex = toHex(bytes);
	return /^0+$/.test(hex) ? null : hex;
}

export function idFromHex(text: string, size: number): string | null {
	if (text === "") return "";
	if (text.length !== size * 2 || !/^[0-9a-fA-F]+$/.test(text)) return null;
	const hex = text.toLowerCase();
	return /^0+$/.test(hex) ? null : hex;
}

const BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/** Standard base64 with padding (proto3 JSON's encoding of bytes), in any runtime. */
export function toBase64(bytes: Uint8Array): string {
	let out = "";
	let i = 0;
	for (; i + 2 < bytes.length; i += 3) {
		const n = ((bytes[i] as number) << 16) | ((bytes[i + 1] as number) << 8) | (bytes[i + 2] as number);
		out += `${BASE64[n >> 18]}${BASE64[(n >> 12) & 63]}${BASE64[(n >> 6) & 63]}${BASE64[n & 63]}`;
	}
	if (i < bytes.length) {
		const a = bytes[i] as number;
		const b = i + 1 < bytes.length ? (bytes[i + 1] as number) : 0;
		const n = (a << 16) | (b << 8);
		out += `${BASE64[n >> 18]}${BASE64[(n >> 12) & 63]}${i + 1 < bytes.length ? BASE64[(n >> 6) & 63] : "="}=`;
	}
	return out;
}
