import { useEffect, useState } from "preact/hooks";
import { useLocation } from "preact-iso";
import { api, unwrap } from "../../api/client";
import type { components } from "../../api/schema";
import { rangeKey, rangeParams } from "../../api/telemetry";
import { formatMs } from "../../components/format";
import { ListFull, linkWithRange, rememberListPlace, useTimeRange } from "../../components/time-range";
import {
	Badge,
	Empty,
	ErrorNotice,
	Field,
	Loading,
	PageHeader,
	SelectField,
	When,
} from "../../components/ui";
import { useAction, useResource } from "../../components/use-resource";

type TraceSummary = components["schemas"]["PageTraceSummary"];
/** Traces "Load older" brings the list to at most (ten pages); then a link continues from the oldest. */
export const TRACES_KEEP = 1000;

/** Traces: the list with filters (service, minimum duration, status) in the URL; each opens its waterfall. */
export function TracesPage() {
	const { path, query, route } = useLocation();
	const range = useTimeRange();
	rememberListPlace("/traces", { path, query });
	const filters = { service: query.service, min_duration_ms: query.min_duration_ms, status: query.status };
	const key = `${rangeKey(range)}|${JSON.stringify(filters)}`;
	const apiQuery = {
		...rangeParams(range),
		...(filters.service ? { service: filters.service } : {}),
		...(filters.min_duration_ms ? { min_duration_ms: Number(filters.min_duration_ms) } : {}),
		...(filters.status === "error" || filters.status === "ok"
			? { status: filters.status as "error" | "ok" }
			: {}),
	};
	const first = useResource(
		() => unwrap(api.GET("/api/v1/pages/traces", { params: { query: { ...apiQuery, limit: 100 } } })),
		[key],
	);
	const [rows, setRows] = useState<TraceSummary[]>([]);
	const [cursor, setCursor] = useState<string | null>(null);
	useEffect(() => {
		if (!first.data) return;
		setRows(first.data.data);
		setCursor(first.data.next_cursor);
	}, [first.data]);
	const more = useAction(async () => {
		if (!cursor) return;
		const page = await unwrap(
			api.GET("/api/v1/pages/traces", { params: { query: { ...apiQuery, limit: 100, cursor } } }),
		);
		setRows((current) => [...current, ...page.data]);
		setCursor(page.next_cursor);
	});
	const [form, setForm] = useState({
		service: filters.service ?? "",
		min: filters.min_duration_ms ?? "",
		status: filters.status ?? "",
	});
	useEffect(
		() =>
			setForm({
				service: filters.service ?? "",
				min: filters.min_duration_ms ?? "",
				status: filters.status ?? "",
			}),
		[key],
	);
	return (
		<>
			<PageHeader title="Traces" subtitle="Newest first, by their root span." />
			<form
				class="row card"
				aria-label="Filter traces"
				onSubmit={(e) => {
					e.preventDefault();
					route(
						linkWithRange(query, path, {
							service: form.service,
							min_duration_ms: form.min,
							status: form.status,
						}),
					);
				}}
			>
				<Field
					label="Service"
					value={form.service}
					onInput={(e) => setForm({ ...form, service: e.currentTarget.value })}
					placeholder="Any service"
				/>
				<Field
					label="Minimum duration (ms)"
					type="number"
					min={0}
					value={form.min}
					onInput={(e) => setForm({ ...form, min: e.currentTarget.value })}
				/>
				<SelectField
					label="Status"
					value={form.status}
					options={[
						["", "Any"],
						["error", "With errors"],
						["ok", "Without errors"],
					]}
					onChange={(e) => setForm({ ...form, status: e.currentTarget.value })}
				/>
				<button type="submit" class="primary">
					Apply filters
				</button>
			</form>
			<ErrorNotice problem={first.error ?? more.error} />
			{first.data === undefined && first.loading ? <Loading what="traces" /> : null}
			{first.data && rows.length === 0 ? <Empty>No traces match in this range.</Empty> : null}
			{rows.length > 0 ? (
				<div class="table-wrap">
					<table aria-label="Traces">
						<thead>
							<tr>
								<th scope="col">Root span</th>
								<th scope="col">Service</th>
								<th scope="col">Started</th>
								<th scope="col">Duration</th>
								<th scope="col">Spans</th>
								<th scope="col">Errors</th>
							</tr>
						</thead>
						<tbody>
							{rows.map((t) => (
								<tr key={t.trace_id}>
									<td class="break">
										<a href={linkWithRange(query, `/traces/${t.trace_id}`)}>{t.root.name}</a>
										<span class="sub mono">{t.trace_id}</span>
									</td>
									<td>{t.root.service ?? "—"}</td>
									<td>
										<When at={t.time} />
									</td>
									<td>{formatMs(t.duration_ms)}</td>
									<td>{t.span_count}</td>
									<td>{t.error ? <Badge kind="error">{t.error_count}</Badge> : "0"}</td>
								</tr>
							))}
						</tbody>
					</table>
				</div>
			) : null}
			{cursor && rows.length >= TRACES_KEEP ? (
				<ListFull
					kept={rows.length}
					what="traces"
					oldestUnixNano={(rows.at(-1) as TraceSummary).time_unix_nano}
					from={first.data ? new Date(first.data.range.from) : range.from}
				/>
			) : cursor ? (
				<button type="button" aria-disabled={more.busy} onClick={() => void more.run()}>
					Load older traces
				</button>
			) : null}
		</>
	);
}
