import { ApiError } from "../errors.js";
import { DecodeError, StorageUnavailable } from "./decode-error.js";

/**
 * An error as it crosses from the writer thread (src/ingest/writer-thread.ts) to the event loop:
 * plain data, rebuilt with the class the routes read — a DecodeError still answers 400 with its field,
 * an ApiError its own status and code, and a driver error keeps its `code` (`SQLITE_FULL`, …) and
 * cause chain, so `isStorageFailure` sees what it would have seen on the event loop.
 */
export type SerializedError =
	| { kind: "decode"; field: string; description: string; summary?: string }
	| { kind: "api"; status: number; code: string; message: string; options: ApiError["options"] }
	| { kind: "storage"; cause: SerializedError }
	| { kind: "error"; name: string; message: string; code?: string; cause?: SerializedError };

const MAX_CAUSES = 5;

export function serializeError(error: unknown, depth = 0): SerializedError {
	if (error instanceof DecodeError) {
		return {
			kind: "decode",
			field: error.field,
			description: error.description,
			...(error.summary !== undefined && { summary: error.summary }),
		};
	}
	if (error instanceof ApiError) {
		return {
			kind: "api",
			status: error.status,
			code: error.code,
			message: error.message,
			options: error.options,
		};
	}
	if (error instanceof StorageUnavailable)
		return { kind: "storage", cause: serializeError(error.cause, depth + 1) };
	if (!(error instanceof Error)) return { kind: "error", name: "Error", message: String(error) };
	const code = (error as { code?: unknown }).code;
	return {
		kind: "error",
		name: error.name,
		message: error.message,
		...(typeof code === "string" && { code }),
		...(error.cause !== undefined && depth < MAX_CAUSES && { cause: serializeError(error.cause, depth + 1) }),
	};
}

export function reviveError(error: SerializedError): Error {
	switch (error.kind) {
		case "decode":
			return new DecodeError(error.field, error.description, error.summary);
		case "api":
			return new ApiError(
				error.status as ApiError["status"],
				error.code as ApiError["code"],
				error.message,
				error.options,
			);
		case "storage":
			return new StorageUnavailable(reviveError(error.cause));
		case "error": {
			const revived = new Error(error.message, error.cause && { cause: reviveError(error.cause) });
			revived.name = error.name;
			if (error.code !== undefined) (revived as Error & { code?: string }).code = error.code;
			return revived;
		}
	}
}
