import { type ApiProblem, api, asProblem, problemFrom } from "../../api/client";
import type { components } from "../../api/schema";
import type { EditorError } from "./editor";
import type { OqlResult } from "./oql";

type OqlQuery = components["schemas"]["OqlQuery"];

export interface RunAnswer {
	result: OqlResult | null;
	problem: ApiProblem | null;
	/** Where the error is in the person's text, for the editor's mark. */
	position: EditorError | null;
}

/**
 * `POST /api/v1/dsl`, keeping the error's position (the shared ApiProblem has no place for it).
 * `sent` is the query as sent; `text` is the person's own, which `sent` may extend with a range
 * clause on a new last line: a fault there is shown at the end of the person's text.
 */
export async function runDsl(
	text: string,
	options: Omit<OqlQuery, "query"> & { sent?: string } = {},
): Promise<RunAnswer> {
	const { sent, ...extra } = options;
	try {
		const { data, error, response } = await api.POST("/api/v1/dsl", {
			body: { query: sent ?? text, ...extra },
		});
		if (response.ok && data) return { result: data, problem: null, position: null };
		const problem = problemFrom(response, error);
		const at = (error as { error?: { position?: { line: number; column: number } } } | undefined)?.error
			?.position;
		const lines = text.split("\n").length;
		const position = at
			? at.line <= lines
				? { line: at.line, column: at.column, message: problem.message }
				: { line: lines, column: (text.split("\n")[lines - 1]?.length ?? 0) + 1, message: problem.message }
			: null;
		return { result: null, problem, position };
	} catch (error) {
		// No answer at all (the network): "Could not reach the server", and the page can run again.
		return { result: null, problem: asProblem(error), position: null };
	}
}
