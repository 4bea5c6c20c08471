import {
	AttributeObject,
	type AttributeOptions,
	arrayValue,
	boolValue,
	bytesValue,
	type DecodedValue,
	doubleValue,
	EMPTY_VALUE,
	idFromHex,
	intValue,
	MAX_VALUE_DEPTH,
	mapValue,
	ResourceBuilder,
	type ResourceInfo,
	type ScopeInfo,
	stringValue,
} from "./attributes.js";
import { DecodeError } from "./decode-error.js";

/**
 * OTLP JSON (the proto3 JSON mapping with OTLP's deviations): lowerCamelCase keys only, unknown keys
 * ignored, trace and span ids as hex, 64-bit integers as decimal strings or numbers, enums as
 * integers (enum names are accepted too, as proto3 parsers do), `null` as the field's default.
 * A value of the wrong JSON type is undecodable (400) and names its path.
 */

type JsonObject = Record<string, unknown>;

export function parseJson(bytes: Uint8Array): unknown {
	let text: string;
	try {
		text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
	} catch {
		throw new DecodeError("body", "not valid UTF-8");
	}
	// A NUL escape becomes U+FFFD's, as protobuf's NULs do (withoutNul): the escape is never preceded
	// by another backslash of its own (an even run of them is escaped backslashes).
	if (text.includes("\\u0000")) text = text.replace(/(?<!\\)((?:\\\\)*)\\u0000/g, "$1\\ufffd");
	try {
		return JSON.parse(text);
	} catch (error) {
		throw new DecodeError(
			"body",
			`not valid JSON (${error instanceof Error ? error.message : "parse error"})`,
		);
	}
}

export function object(value: unknown, path: string): JsonObject | null {
	if (value === undefined || value === null) return null;
	if (typeof value !== "object" || Array.isArray(value)) throw new DecodeError(path, "expected an object");
	return value as JsonObject;
}

export function array(value: unknown, path: string): unknown[] {
	if (value === undefined || value === null) return [];
	if (!Array.isArray(value)) throw new DecodeError(path, "expected an array");
	return value;
}

export function string(value: unknown, path: string): string {
	if (value === undefined || value === null) return "";
	if (typeof value !== "string") throw new DecodeError(path, "expected a string");
	return value;
}

export function boolean(value: unknown, path: string): boolean {
	if (value === undefined || value === null) return false;
	if (typeof value !== "boolean") throw new DecodeError(path, "expected true or false");
	return value;
}

const INTEGER_TEXT = /^-?\d{1,20}$/;

/** int64/uint64/fixed64: a decimal string or an integral number. */
export function int64(value: unknown, path: string): bigint {
	if (value === undefined || value === null) return 0n;
	if (typeof value === "string" && INTEGER_TEXT.test(value)) return BigInt(value);
	if (typeof value === "number" && Number.isInteger(value)) return BigInt(value);
	throw new DecodeError(path, "expected a 64-bit integer as a decimal string or a number");
}

export function uint64(value: unknown, path: string): bigint {
	const n = int64(value, path);
	if (n < 0n || n > 0xffff_ffff_ffff_ffffn)
		throw new DecodeError(path, "expected an unsigned 64-bit integer");
	return n;
}

/** int32/uint32/sint32: a number or a decimal string. */
export function int32(value: unknown, path: string): number {
	if (value === undefined || value === null) return 0;
	const n = typeof value === "string" && INTEGER_TEXT.test(value) ? Number(value) : value;
	if (typeof n !== "number" || !Number.isInteger(n) || n < -(2 ** 31) || n > 2 ** 32 - 1) {
		throw new DecodeError(path, "expected a 32-bit integer");
	}
	return n;
}

/** double: a number, a numeric string, or "NaN" / "Infinity" / "-Infinity". */
export function double(value: unknown, path: string): number {
	if (value === undefined || value === null) return 0;
	if (typeof value === "number") return value;
	if (typeof value === "string" && value.trim() !== "") {
		if (value === "NaN") return Number.NaN;
		if (value === "Infinity") return Number.POSITIVE_INFINITY;
		if (value === "-Infinity") return Number.NEGATIVE_INFINITY;
		const n = Number(value);
		if (Number.isFinite(n)) return n;
	}
	throw new DecodeError(path, "expected a number");
}

/** An optional double (`optional double sum`): null when absent. */
export function optionalDouble(value: unknown, path: string): number | null {
	return value === undefined || value === null ? null : double(value, path);
}

/** An enum: its integer, or (leniently) its name from `names` (index = value). */
export function enumValue(value: unknown, path: string, names: readonly string[]): number {
	if (typeof value === "string" && !INTEGER_TEXT.test(value)) {
		const index = names.indexOf(value);
		if (index < 0) throw new DecodeError(path, "unknown enum value");
		return index;
	}
	return int32(value, path);
}

/** A trace or span id: "" when absent, null when it is not hex of the right length (rejected item). */
export function hexId(value: unknown, bytes: number, path: string): string | null {
	return idFromHex(string(value, path), bytes);
}

const BASE64_TEXT = /^[A-Za-z0-9+/_-]*={0,2}$/;

export function anyValue(value: unknown, path: string, depth = 0): DecodedValue {
	if (depth > MAX_VALUE_DEPTH) throw new DecodeError(path, `nested deeper than ${MAX_VALUE_DEPTH} levels`);
	const v = object(value, path);
	if (!v) return EMPTY_VALUE;
	if (v.stringValue !== undefined && v.stringValue !== null)
		return stringValue(string(v.stringValue, `${path}.stringValue`));
	if (v.boolValue !== undefined && v.boolValue !== null)
		return boolValue(boolean(v.boolValue, `${path}.boolValue`));
	if (v.intValue !== undefined && v.intValue !== null) return intValue(int64(v.intValue, `${path}.intValue`));
	if (v.doubleValue !== undefined && v.doubleValue !== null)
		return doubleValue(double(v.doubleValue, `${path}.doubleValue`));
	if (v.arrayValue !== undefined && v.arrayValue !== null) {
		const list = object(v.arrayValue, `${path}.arrayValue`);
		const items = array(list?.values, `${path}.arrayValue.values`);
		return arrayValue(items.map((item, i) => anyValue(item, `${path}.arrayValue.values[${i}]`, depth + 1)));
	}
	if (v.kvlistValue !== undefined && v.kvlistValue !== null) {
		const list = object(v.kvlistValue, `${path}.kvlistValue`);
		const target = new AttributeObject();
		attributes(list?.values, `${path}.kvlistValue.values`, target, depth + 1);
		return mapValue(target.json());
	}
	if (v.bytesValue !== undefined && v.bytesValue !== null) {
		const text = string(v.bytesValue, `${path}.bytesValue`);
		if (!BASE64_TEXT.test(text)) throw new DecodeError(`${path}.bytesValue`, "expected base64");
		return bytesValue(text);
	}
	return EMPTY_VALUE;
}

/** A `repeated KeyValue` list into `target`; pairs without a key are dropped. */
export function attributes(list: unknown, path: string, target: AttributeObject, depth = 0): void {
	const items = array(list, path);
	for (let i = 0; i < items.length; i++) {
		const pair = object(items[i], `${path}[${i}]`);
		if (!pair) continue;
		const key = string(pair.key, `${path}[${i}].key`);
		const value = anyValue(pair.value, `${path}[${i}].value`, depth + 1);
		if (key !== "") target.add(key, value);
	}
}

export function resource(value: unknown, path: string, options: AttributeOptions): ResourceInfo {
	const builder = new ResourceBuilder(options);
	const r = object(value, path);
	if (r) attributes(r.attributes, `${path}.attributes`, builder.object);
	return builder.finish();
}

export function scope(value: unknown, path: string, options: AttributeOptions): ScopeInfo {
	const s = object(value, path);
	if (!s) return { name: null, version: null, attributes: null };
	const target = new AttributeObject(options);
	attributes(s.attributes, `${path}.attributes`, target);
	return {
		name: string(s.name, `${path}.name`) || null,
		version: string(s.version, `${path}.version`) || null,
		attributes: target.size > 0 ? target.json() : null,
	};
}

/** The envelope keys of one signal, e.g. resourceSpans → scopeSpans → spans. */
export interface JsonEnvelope {
	resources: string;
	scopes: string;
	records: string;
}

/** Walks Export…Request → resources → scopes → records, as the protobuf walker does. */
export function walkJsonEnvelope(
	root: unknown,
	keys: JsonEnvelope,
	observers: { resource: AttributeOptions; scope: AttributeOptions },
	record: (value: JsonObject, path: string, resource: ResourceInfo, scope: ScopeInfo) => void,
): void {
	const request = object(root, "body");
	if (!request) throw new DecodeError("body", "expected an object");
	const resources = array(request[keys.resources], keys.resources);
	for (let i = 0; i < resources.length; i++) {
		const resourcePath = `${keys.resources}[${i}]`;
		const entry = object(resources[i], resourcePath);
		if (!entry) continue;
		const resourceInfo = resource(entry.resource, `${resourcePath}.resource`, observers.resource);
		const scopes = array(entry[keys.scopes], `${resourcePath}.${keys.scopes}`);
		for (let j = 0; j < scopes.length; j++) {
			const scopePath = `${resourcePath}.${keys.scopes}[${j}]`;
			const scopeEntry = object(scopes[j], scopePath);
			if (!scopeEntry) continue;
			const scopeInfo = scope(scopeEntry.scope, `${scopePath}.scope`, observers.scope);
			const records = array(scopeEntry[keys.records], `${scopePath}.${keys.records}`);
			for (let k = 0; k < records.length; k++) {
				const recordPath = `${scopePath}.${keys.records}[${k}]`;
				const value = object(records[k], recordPath);
				if (value) record(value, recordPath, resourceInfo, scopeInfo);
			}
		}
	}
}
