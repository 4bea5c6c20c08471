import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import { ApiError } from "../errors.js";
import { withoutNul } from "../text.js";
import {
	AttributeObject,
	type AttributeOptions,
	arrayValue,
	boolValue,
	bytesValue,
	type DecodedValue,
	doubleValue,
	EMPTY_VALUE,
	intValue,
	MAX_VALUE_DEPTH,
	mapValue,
	ResourceBuilder,
	type ResourceInfo,
	type ScopeInfo,
	stringValue,
	toBase64,
} from "./attributes.js";
import { DecodeError, StorageUnavailable } from "./decode-error.js";

/**
 * OTLP protobuf decoding on @bufbuild/protobuf's BinaryReader (varints, fixed widths, UTF-8, bounds):
 * this file only walks the OTLP message structure, decoding straight into row values and skipping
 * every field that is not stored. Protobuf lets fields arrive in any order, so containers whose
 * children depend on a sibling (a resource, a scope, a metric's name) remember where the children
 * are and decode them once the sibling is known.
 */

export { BinaryReader, WireType };

/** A length-delimited field's end, checked against the buffer. */
export function messageEnd(r: BinaryReader): number {
	const length = readLength(r);
	return r.pos + length;
}

/** Throws unless the field has the wire type its schema gives it. */
export function expectWire(actual: WireType, expected: WireType, field: string): void {
	if (actual !== expected) throw new DecodeError(field, `wrong wire type ${actual} (expected ${expected})`);
}

/** Ends a message: the last field must end exactly at the message's end. */
export function endMessage(r: BinaryReader, end: number): void {
	if (r.pos !== end) throw new DecodeError("protobuf", "a field runs past the end of its message");
}

/** The position of each occurrence of a length-delimited child, to decode later. */
export interface ByteRange {
	start: number;
	end: number;
}

export function childRange(r: BinaryReader, wireType: WireType, field: string): ByteRange {
	expectWire(wireType, WireType.LengthDelimited, field);
	const end = messageEnd(r);
	const range = { start: r.pos, end };
	r.pos = end;
	return range;
}

/** A reader positioned on a range (sharing the buffer) — BinaryReader has no seek, but `pos` is public. */
export function at(r: BinaryReader, range: ByteRange): number {
	r.pos = range.start;
	return range.end;
}

/** Wraps the reader's own errors (premature EOF, illegal tags) as undecodable input. */
export function decodeProtobuf<T>(bytes: Uint8Array, decode: (r: BinaryReader) => T): T {
	const reader = new BinaryReader(bytes);
	try {
		return decode(reader);
	} catch (error) {
		// The API's own answers (an export too large as stored: 413) and storage failures pass as they are.
		if (error instanceof DecodeError || error instanceof StorageUnavailable || error instanceof ApiError)
			throw error;
		throw new DecodeError("protobuf", error instanceof Error ? error.message : "malformed protobuf");
	}
}

/** `bytes` fields; the reader returns a view into the request body. */
export function readBytes(r: BinaryReader, wireType: WireType, field: string): Uint8Array {
	expectWire(wireType, WireType.LengthDelimited, field);
	const start = r.pos;
	const bytes = r.bytes();
	if (r.pos - start - bytes.length >= 5) checkLengthAt(r, start);
	return bytes;
}

/**
 * A length-delimited field's length, read once and checked against the body. The reader's uint32()
 * keeps a longer varint's low 32 bits (a field declared 4 GiB long read as empty): a varint of five
 * bytes or more is read again as 64 bits, on that rare path only.
 */
function readLength(r: BinaryReader): number {
	const start = r.pos;
	let length = r.uint32();
	if (r.pos - start >= 5) {
		r.pos = start;
		length = Number(r.uint64());
	}
	if (length > r.len - r.pos)
		throw new DecodeError("protobuf", "a length-delimited field runs past the end of the body");
	return length;
}

/**
 * Checks, after the reader's bytes() or string() (which read a length with uint32()), the length at
 * `start`. Only called when more than four bytes before the field's data are not its text or bytes:
 * a length varint of five bytes or more (2^28 and up), or multi-byte UTF-8; the hot path reads once.
 */
function checkLengthAt(r: BinaryReader, start: number): void {
	const end = r.pos;
	r.pos = start;
	readLength(r);
	r.pos = end;
}

/** Skips a field this decoder does not read (its length checked as every other one's). */
export function skipField(r: BinaryReader, wireType: WireType, fieldNo: number): void {
	if (wireType === WireType.LengthDelimited) {
		const start = r.pos;
		readLength(r);
		r.pos = start;
	}
	r.skip(wireType, fieldNo);
}

export function readString(r: BinaryReader, wireType: WireType, field: string): string {
	expectWire(wireType, WireType.LengthDelimited, field);
	const start = r.pos;
	const text = r.string();
	// UTF-8 takes at least a byte per UTF-16 unit: what is left over is the length varint (≤ 4 bytes
	// below 2^28), or multi-byte characters, checked then.
	if (r.pos - start - text.length >= 5) checkLengthAt(r, start);
	return withoutNul(text);
}

export function readFixed64(r: BinaryReader, wireType: WireType, field: string): bigint {
	expectWire(wireType, WireType.Bit64, field);
	return BigInt(r.fixed64());
}

export function readDouble(r: BinaryReader, wireType: WireType, field: string): number {
	expectWire(wireType, WireType.Bit64, field);
	return r.double();
}

export function readVarint32(r: BinaryReader, wireType: WireType, field: string): number {
	expectWire(wireType, WireType.Varint, field);
	return r.int32();
}

/** A repeated scalar, packed (one length-delimited run) or not (one value per tag): both are valid. */
/**
 * A repeated scalar field, packed or not, into `into`. At most `max + 1` values are kept (the rest
 * are read and not held), so `into.length > max` says there were too many.
 */
export function readRepeated<T>(
	r: BinaryReader,
	wireType: WireType,
	element: WireType,
	read: () => T,
	into: T[],
	field: string,
	max = Number.POSITIVE_INFINITY,
): void {
	if (wireType === WireType.LengthDelimited) {
		const end = messageEnd(r);
		while (r.pos < end) {
			const value = read();
			if (into.length <= max) into.push(value);
		}
		endMessage(r, end);
		return;
	}
	expectWire(wireType, element, field);
	const value = read();
	if (into.length <= max) into.push(value);
}

export function anyValue(r: BinaryReader, end: number, depth: number): DecodedValue {
	if (depth > MAX_VALUE_DEPTH)
		throw new DecodeError("AnyValue", `nested deeper than ${MAX_VALUE_DEPTH} levels`);
	let value = EMPTY_VALUE;
	while (r.pos < end) {
		const [no, wt] = r.tag();
		switch (no) {
			case 1:
				value = stringValue(readString(r, wt, "AnyValue.string_value"));
				break;
			case 2:
				expectWire(wt, WireType.Varint, "AnyValue.bool_value");
				value = boolValue(r.bool());
				break;
			case 3:
				expectWire(wt, WireType.Varint, "AnyValue.int_value");
				value = intValue(BigInt(r.int64()));
				break;
			case 4:
				value = doubleValue(readDouble(r, wt, "AnyValue.double_value"));
				break;
			case 5: {
				expectWire(wt, WireType.LengthDelimited, "AnyValue.array_value");
				const arrayEnd = messageEnd(r);
				const items: DecodedValue[] = [];
				while (r.pos < arrayEnd) {
					const [itemNo, itemWt] = r.tag();
					if (itemNo === 1) {
						expectWire(itemWt, WireType.LengthDelimited, "ArrayValue.values");
						items.push(anyValue(r, messageEnd(r), depth + 1));
					} else skipField(r, itemWt, itemNo);
				}
				endMessage(r, arrayEnd);
				value = arrayValue(items);
				break;
			}
			case 6: {
				expectWire(wt, WireType.LengthDelimited, "AnyValue.kvlist_value");
				const listEnd = messageEnd(r);
				const object = new AttributeObject();
				while (r.pos < listEnd) {
					const [itemNo, itemWt] = r.tag();
					if (itemNo === 1) {
						expectWire(itemWt, WireType.LengthDelimited, "KeyValueList.values");
						keyValue(r, messageEnd(r), object, depth + 1);
					} else skipField(r, itemWt, itemNo);
				}
				endMessage(r, listEnd);
				value = mapValue(object.json());
				break;
			}
			case 7:
				value = bytesValue(toBase64(readBytes(r, wt, "AnyValue.bytes_value")));
				break;
			case 8:
				// string_value_strindex belongs to the profiles signal: OTLP says to treat it as absent.
				skipField(r, wt, no);
				value = EMPTY_VALUE;
				break;
			default:
				skipField(r, wt, no);
		}
	}
	endMessage(r, end);
	return value;
}

/** One KeyValue into `object`; a pair without a key (e.g. a profiles `key_strindex`) is dropped. */
export function keyValue(r: BinaryReader, end: number, object: AttributeObject, depth = 0): void {
	let key = "";
	let value = EMPTY_VALUE;
	while (r.pos < end) {
		const [no, wt] = r.tag();
		if (no === 1) key = readString(r, wt, "KeyValue.key");
		else if (no === 2) {
			expectWire(wt, WireType.LengthDelimited, "KeyValue.value");
			value = anyValue(r, messageEnd(r), depth + 1);
		} else skipField(r, wt, no);
	}
	endMessage(r, end);
	if (key !== "") object.add(key, value);
}

/** `repeated KeyValue attributes` at the current tag; call once per occurrence. */
export function attribute(r: BinaryReader, wireType: WireType, object: AttributeObject, field: string): void {
	expectWire(wireType, WireType.LengthDelimited, field);
	keyValue(r, messageEnd(r), object);
}

export function resource(r: BinaryReader, range: ByteRange | null, options: AttributeOptions): ResourceInfo {
	const builder = new ResourceBuilder(options);
	if (range) {
		const end = at(r, range);
		while (r.pos < end) {
			const [no, wt] = r.tag();
			if (no === 1) attribute(r, wt, builder.object, "Resource.attributes");
			else skipField(r, wt, no);
		}
		endMessage(r, end);
	}
	return builder.finish();
}

export function scope(r: BinaryReader, range: ByteRange | null, options: AttributeOptions): ScopeInfo {
	if (!range) return { name: null, version: null, attributes: null };
	let name = "";
	let version = "";
	const object = new AttributeObject(options);
	const end = at(r, range);
	while (r.pos < end) {
		const [no, wt] = r.tag();
		if (no === 1) name = readString(r, wt, "InstrumentationScope.name");
		else if (no === 2) version = readString(r, wt, "InstrumentationScope.version");
		else if (no === 3) attribute(r, wt, object, "InstrumentationScope.attributes");
		else skipField(r, wt, no);
	}
	endMessage(r, end);
	return { name: name || null, version: version || null, attributes: object.size > 0 ? object.json() : null };
}

/** The first occurrence of length-delimited field `fieldNo` in [r.pos, end), skipping all else. */
export function findChild(r: BinaryReader, end: number, fieldNo: number, field: string): ByteRange | null {
	while (r.pos < end) {
		const [no, wt] = r.tag();
		if (no === fieldNo) return childRange(r, wt, field);
		skipField(r, wt, no);
	}
	endMessage(r, end);
	return null;
}

/** Calls `each` with the end of every occurrence of length-delimited field `fieldNo` in `range`. */
export function forEachChild(
	r: BinaryReader,
	range: ByteRange,
	fieldNo: number,
	field: string,
	each: (end: number) => void,
) {
	const end = at(r, range);
	while (r.pos < end) {
		const [no, wt] = r.tag();
		if (no !== fieldNo) {
			skipField(r, wt, no);
			continue;
		}
		const child = childRange(r, wt, field);
		each(at(r, child));
		r.pos = child.end;
	}
	endMessage(r, end);
}

/**
 * The envelope every signal shares: Export…Request { repeated Resource… = 1 } → Resource… { resource
 * = 1, repeated Scope… = 2 } → Scope… { scope = 1, repeated records = 2 }. A first pass over each
 * container finds its resource or scope (cheap: everything else is skipped by length), a second
 * decodes the children in order. `record` decodes one record at the reader's position, ending at
 * `end`, with its resource and scope known.
 */
export function walkEnvelope(
	r: BinaryReader,
	observers: { resource: AttributeOptions; scope: AttributeOptions },
	record: (end: number, resource: ResourceInfo, scope: ScopeInfo) => void,
): void {
	forEachChild(r, { start: 0, end: r.len }, 1, "resource entry", (resourceEnd) => {
		const entry = { start: r.pos, end: resourceEnd };
		const resourceInfo = resource(r, findChild(r, resourceEnd, 1, "resource"), observers.resource);
		forEachChild(r, entry, 2, "scope entry", (scopeEnd) => {
			const scopeEntry = { start: r.pos, end: scopeEnd };
			const scopeInfo = scope(r, findChild(r, scopeEnd, 1, "scope"), observers.scope);
			forEachChild(r, scopeEntry, 2, "record", (recordEnd) => record(recordEnd, resourceInfo, scopeInfo));
		});
	});
}
