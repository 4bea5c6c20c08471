import { readFileSync } from "node:fs";
import { join } from "node:path";
import { BinaryReader } from "@bufbuild/protobuf/wire";
import { type Client, createClient } from "@libsql/client";
import { decodeStatus } from "../../src/ingest/messages.js";

/** Our fixtures, shaped like opentelemetry-proto's examples/*.json. */
export function fixture(name: "trace" | "logs" | "metrics"): Record<string, unknown> {
	return JSON.parse(readFileSync(new URL(`../fixtures/otlp/${name}.json`, import.meta.url), "utf8"));
}

/** The fixtures' clock: 2018-12-13T14:51:00Z, when their records were made (inside the retention). */
export const FIXTURE_NOW_MS = Date.UTC(2018, 11, 13, 14, 51, 30);

/** A reader of the test database that keeps 64-bit integers exact (ns timestamps exceed 2^53). */
export function exactReader(dir: string): Client {
	return createClient({ url: `file:${join(dir, "test.db")}`, intMode: "bigint" });
}

export type Row = Record<string, unknown>;

/** Rows in insertion order; integers that fit a JS number become numbers, the rest stay bigint. */
export async function rowsOf(
	client: Client,
	table: string,
	query: { where?: string; args?: unknown[]; orderBy?: string } = {},
): Promise<Row[]> {
	const result = await client.execute({
		sql: `SELECT * FROM ${table} WHERE ${query.where ?? "1 = 1"} ORDER BY ${query.orderBy ?? "id"}`,
		args: (query.args ?? []) as never,
	});
	return result.rows.map((row) => {
		const out: Row = {};
		for (const column of result.columns) {
			const value = row[column];
			out[column] =
				typeof value === "bigint" &&
				value >= BigInt(Number.MIN_SAFE_INTEGER) &&
				value <= BigInt(Number.MAX_SAFE_INTEGER)
					? Number(value)
					: value;
		}
		return out;
	});
}

export async function countOf(client: Client, table: string): Promise<number> {
	const result = await client.execute(`SELECT count(*) AS n FROM ${table}`);
	return Number(result.rows[0]?.n);
}

/** A failure's google.rpc.Status, from either format. */
export async function statusOf(
	response: Response,
): Promise<{ code: number; message: string; detailTypes: string[] }> {
	const type = response.headers.get("Content-Type") ?? "";
	const bytes = new Uint8Array(await response.arrayBuffer());
	if (type.startsWith("application/x-protobuf")) return decodeStatus(bytes);
	const json = JSON.parse(new TextDecoder().decode(bytes)) as {
		code: number;
		message: string;
		details: { "@type": string }[];
	};
	return { code: json.code, message: json.message, detailTypes: json.details.map((d) => d["@type"]) };
}

/** ExportTraceServiceResponse / …Logs… / …Metrics…: partial_success (1) { rejected (1), error_message (2) }. */
export function decodeExportResponse(bytes: Uint8Array): { rejected: number; message: string } | null {
	const r = new BinaryReader(bytes);
	let partial: { rejected: number; message: string } | null = null;
	while (r.pos < r.len) {
		const [no, wt] = r.tag();
		if (no !== 1) {
			r.skip(wt, no);
			continue;
		}
		const inner = new BinaryReader(r.bytes());
		partial = { rejected: 0, message: "" };
		while (inner.pos < inner.len) {
			const [n, w] = inner.tag();
			if (n === 1) partial.rejected = Number(inner.int64());
			else if (n === 2) partial.message = inner.string();
			else inner.skip(w, n);
		}
	}
	return partial;
}
