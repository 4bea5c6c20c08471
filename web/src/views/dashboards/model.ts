/**
 * The dashboard document as the UI edits it (docs/dashboards.md): panels on the API's 24-column
 * grid, free places for new panels, moves that never overlap, and saving with the version.
 */
import { ApiProblem, api, problemFrom, unwrap } from "../../api/client";
import type { components } from "../../api/schema";
import type { ResultKind } from "../query/shape";

export type Dashboard = components["schemas"]["Dashboard"];
export type Panel = components["schemas"]["DashboardPanelOut"];
export type PanelInput = components["schemas"]["DashboardPanel"];
export type PanelKind = Panel["kind"];
export type Layout = components["schemas"]["PanelLayout"];

/** The API's grid (docs/dashboards.md, panel `layout`). */
export const GRID_COLUMNS = 24;
export const MAX_Y = 1000;
export const MAX_H = 100;
export const DEFAULT_SIZE = { w: 12, h: 6 };

export function panelKindFor(kind: ResultKind): PanelKind {
	return kind;
}

export function overlaps(a: Layout, b: Layout): boolean {
	return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

/** Whether `layout` fits the grid and touches no other panel than `self`. */
export function fits(layout: Layout, panels: Array<{ id?: string; layout: Layout }>, self?: string): boolean {
	if (layout.x < 0 || layout.w < 1 || layout.x + layout.w > GRID_COLUMNS) return false;
	if (layout.y < 0 || layout.y > MAX_Y || layout.h < 1 || layout.h > MAX_H) return false;
	return panels.every((p) => p.id === self || !overlaps(layout, p.layout));
}

/** Below everything, at the left: always free. */
export function freeSpot(panels: Array<{ layout: Layout }>, size = DEFAULT_SIZE): Layout {
	const bottom = panels.reduce((y, p) => Math.max(y, p.layout.y + p.layout.h), 0);
	// First try beside the last row's panels, then start a new row.
	for (let y = 0; y <= bottom; y++) {
		for (let x = 0; x + size.w <= GRID_COLUMNS; x++) {
			const candidate = { x, y, ...size };
			if (panels.every((p) => !overlaps(candidate, p.layout))) return candidate;
		}
	}
	return { x: 0, y: bottom, ...size };
}

/** A panel as the write routes take it (the output's fields are the input's). */
export function toInput(panel: Panel | PanelInput): PanelInput {
	const { id, title, description, kind, layout, options, query, saved_query_id } = panel;
	return {
		id,
		title,
		kind,
		layout,
		...(description ? { description } : {}),
		...(options ? { options } : {}),
		...(saved_query_id ? { saved_query_id } : { query: query ?? "" }),
	};
}

export type SaveOutcome = { saved: Dashboard } | { conflict: number | null };

/** PUT with the version the draft is based on; a 409 `version_conflict` is an outcome, not an error. */
export async function saveDashboard(draft: Dashboard, version: number): Promise<SaveOutcome> {
	const { data, error, response } = await api.PUT("/api/v1/dashboards/{id}", {
		params: { path: { id: draft.id } },
		body: {
			version,
			title: draft.title,
			description: draft.description,
			tags: draft.tags,
			time: draft.time,
			variables: draft.variables,
			panels: draft.panels.map(toInput),
		},
	});
	if (response.ok && data) return { saved: data };
	const problem = problemFrom(response, error);
	if (response.status === 409 && problem.code === "version_conflict") {
		const details = (error as { error?: { details?: { current_version?: number } } } | undefined)?.error
			?.details;
		return { conflict: typeof details?.current_version === "number" ? details.current_version : null };
	}
	throw problem;
}

/**
 * Appends a panel in a free place (from the query explorer). An append cannot lose anyone's
 * work, so a version conflict is retried on the fresh document, a few times.
 */
export async function addPanel(id: string, panel: Omit<PanelInput, "layout">): Promise<Dashboard> {
	for (let attempt = 0; attempt < 3; attempt++) {
		const current = await unwrap(api.GET("/api/v1/dashboards/{id}", { params: { path: { id } } }));
		const { data, error, response } = await api.PATCH("/api/v1/dashboards/{id}", {
			params: { path: { id } },
			body: {
				version: current.version,
				panels: [...current.panels.map(toInput), { ...panel, layout: freeSpot(current.panels) }],
			},
		});
		if (response.ok && data) return data;
		const problem = problemFrom(response, error);
		if (problem.code !== "version_conflict") throw problem;
	}
	throw new ApiProblem(409, "version_conflict", "The dashboard kept changing; try again.", null);
}

export const PANEL_KIND_OPTIONS: Array<[string, string]> = [
	["timeseries", "Time series"],
	["bar", "Bars"],
	["number", "Single number"],
	["table", "Table"],
	["logs", "Log lines (table)"],
];
