/** The OQL error codes (contract §4); the route maps each to a 400 answer. */
export type OqlErrorCode = "oql_syntax_error" | "oql_invalid_query" | "oql_range_too_large";

/** A place in the query text: 1-based line and column (columns count Unicode code points). */
export interface Position {
	line: number;
	column: number;
}

/**
 * Any problem with a query. `position` is always set for syntax errors and, where the fault has a
 * place in the text, for invalid queries too. The message names the line and column itself.
 */
export class OqlError extends Error {
	constructor(
		readonly code: OqlErrorCode,
		message: string,
		readonly position?: Position,
	) {
		super(position ? `${message} (line ${position.line}, column ${position.column})` : message);
		this.name = "OqlError";
	}
}

export function syntaxError(message: string, position: Position): OqlError {
	return new OqlError("oql_syntax_error", message, position);
}

export function invalidQuery(message: string, position?: Position): OqlError {
	return new OqlError("oql_invalid_query", message, position);
}

/** Damerau-Levenshtein distance (optimal string alignment): typos, including swapped letters. */
export function editDistance(a: string, b: string): number {
	const rows = a.length + 1;
	const cols = b.length + 1;
	const d: number[] = new Array(rows * cols).fill(0);
	const at = (i: number, j: number) => d[i * cols + j] ?? 0;
	for (let i = 0; i < rows; i++) d[i * cols] = i;
	for (let j = 0; j < cols; j++) d[j] = j;
	for (let i = 1; i < rows; i++) {
		for (let j = 1; j < cols; j++) {
			const cost = a[i - 1] === b[j - 1] ? 0 : 1;
			let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
			if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
				best = Math.min(best, at(i - 2, j - 2) + 1);
			}
			d[i * cols + j] = best;
		}
	}
	return at(a.length, b.length);
}

/** The closest candidate within an edit distance of 2 (case-insensitive), or null. */
export function nearest(name: string, candidates: Iterable<string>): string | null {
	const wanted = name.toLowerCase();
	let best: string | null = null;
	let bestDistance = 3;
	for (const candidate of candidates) {
		const distance = editDistance(wanted, candidate.toLowerCase());
		if (distance < bestDistance) {
			best = candidate;
			bestDistance = distance;
		}
	}
	return best;
}

/** " Did you mean …?" for a message, or nothing. */
export function didYouMean(name: string, candidates: Iterable<string>): string {
	const suggestion = nearest(name, candidates);
	return suggestion ? ` Did you mean ${suggestion}?` : "";
}
