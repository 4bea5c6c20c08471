import { useLocation, useRoute } from "preact-iso";
import { api, readPages, unwrap } from "../../api/client";
import type { components } from "../../api/schema";
import { rangeKey, rangeParams } from "../../api/telemetry";
import { ErrorLines } from "../../components/error-lines";
import { TimeChart } from "../../components/time-chart";
import { backToList, linkWithRange, rememberListPlace, useTimeRange } from "../../components/time-range";
import { Badge, Empty, ErrorNotice, Loading, PageHeader, When } from "../../components/ui";
import { useResource } from "../../components/use-resource";

type Host = components["schemas"]["PageHost"];
type SortKey = "host" | "logs" | "errors" | "spans" | "metrics" | "last_seen";
/** Pages of 200 hosts the list reads at most (1,000 hosts). */
const HOST_PAGES = 5;

const SORTS: Record<SortKey, (h: Host) => number | string> = {
	host: (h) => h.host,
	logs: (h) => h.logs.count,
	errors: (h) => h.logs.errors + h.spans.errors,
	spans: (h) => h.spans.count,
	metrics: (h) => h.metric_points.count,
	last_seen: (h) => h.last_seen,
};

/** Hosts seen in the range with their volumes and errors; sortable by any column (in the URL). */
export function HostsPage() {
	const { path, query, route } = useLocation();
	const range = useTimeRange();
	rememberListPlace("/hosts", { path, query });
	// Sorted here, so read whole: up to HOST_PAGES pages of 200 (the API pages by name); more is said.
	const hosts = useResource(
		() =>
			readPages(
				(cursor) =>
					unwrap(
						api.GET("/api/v1/pages/hosts", {
							params: { query: { ...rangeParams(range), limit: 200, cursor } },
						}),
					),
				HOST_PAGES,
			),
		[rangeKey(range)],
	);
	const sort = (Object.keys(SORTS) as SortKey[]).find((k) => k === query.sort) ?? "last_seen";
	const descending = query.order !== "asc";
	const rows = [...(hosts.data?.data ?? [])].sort((a, b) => {
		const x = SORTS[sort](a);
		const y = SORTS[sort](b);
		return (x < y ? -1 : x > y ? 1 : 0) * (descending ? -1 : 1);
	});
	const header = (key: SortKey, label: string) => (
		<th scope="col" aria-sort={sort === key ? (descending ? "descending" : "ascending") : "none"}>
			<button
				type="button"
				class="link"
				onClick={() => {
					const next = new URLSearchParams(query);
					next.set("sort", key);
					next.set("order", sort === key && descending ? "asc" : "desc");
					route(`${path}?${next}`);
				}}
			>
				{label}
				{sort === key ? (descending ? " ↓" : " ↑") : ""}
			</button>
		</th>
	);
	return (
		<>
			<PageHeader title="Hosts" subtitle="Every host that sent logs, spans or metrics in the range." />
			<ErrorNotice problem={hosts.error} />
			{hosts.data === undefined && hosts.loading ? <Loading what="hosts" /> : null}
			{hosts.data && rows.length === 0 ? <Empty>No host sent data in this range.</Empty> : null}
			{rows.length > 0 ? (
				<div class="table-wrap">
					<table aria-label="Hosts">
						<thead>
							<tr>
								{header("host", "Host")}
								<th scope="col">Services</th>
								{header("logs", "Logs")}
								{header("errors", "Errors")}
								{header("spans", "Spans")}
								{header("metrics", "Metric points")}
								{header("last_seen", "Last seen")}
							</tr>
						</thead>
						<tbody>
							{rows.map((h) => (
								<tr key={h.host}>
									<td class="break">
										<a href={linkWithRange(query, `/hosts/${encodeURIComponent(h.host)}`)}>{h.host}</a>
									</td>
									<td class="break">{h.services.join(", ")}</td>
									<td>{h.logs.count.toLocaleString()}</td>
									<td>
										{h.logs.errors + h.spans.errors > 0 ? (
											<Badge kind="error">{(h.logs.errors + h.spans.errors).toLocaleString()}</Badge>
										) : (
											"0"
										)}
									</td>
									<td>{h.spans.count.toLocaleString()}</td>
									<td>{h.metric_points.count.toLocaleString()}</td>
									<td>
										<When at={h.last_seen} />
									</td>
								</tr>
							))}
						</tbody>
					</table>
					{hosts.data?.more ? (
						<p class="subtitle">
							The first {rows.length.toLocaleString()} hosts by name are shown and sorted; more sent data in
							this range. Narrow the range to see the others.
						</p>
					) : null}
				</div>
			) : null}
		</>
	);
}

export function HostDetail() {
	const { params } = useRoute();
	const { query } = useLocation();
	const host = decodeURIComponent(params.host ?? "");
	const range = useTimeRange();
	const detail = useResource(
		() =>
			unwrap(
				api.GET("/api/v1/pages/hosts/{host}", { params: { path: { host }, query: rangeParams(range) } }),
			),
		[host, rangeKey(range)],
	);
	const d = detail.data;
	const chart = (h: components["schemas"]["PageHistogram"], label: string) => ({
		times: h.buckets.map((b) => Date.parse(b.time)),
		series: [{ label, values: h.buckets.map((b) => b.count) }],
	});
	return (
		<>
			<p>
				<a href={backToList(query, "/hosts")}>← Hosts</a>
			</p>
			<PageHeader title={host} subtitle={d ? `Services: ${d.services.join(", ") || "—"}` : undefined} />
			<ErrorNotice problem={detail.error} />
			{!d ? (
				detail.loading ? (
					<Loading what="the host" />
				) : null
			) : (
				<>
					<div class="stats">
						<div class="stat">
							<span class="stat-label">Logs</span>
							<span class="stat-value">{d.logs.count.toLocaleString()}</span>
						</div>
						<div class="stat">
							<span class="stat-label">Error logs</span>
							<span class="stat-value">{d.logs.errors.toLocaleString()}</span>
						</div>
						<div class="stat">
							<span class="stat-label">Spans</span>
							<span class="stat-value">{d.spans.count.toLocaleString()}</span>
						</div>
						<div class="stat">
							<span class="stat-label">Metric points</span>
							<span class="stat-value">{d.metric_points.count.toLocaleString()}</span>
						</div>
					</div>
					<div class="chart-grid">
						<section class="card" aria-label="Logs over time">
							<h2>Logs</h2>
							<TimeChart
								label="Logs over time"
								kind="bars"
								height={160}
								{...chart(d.histogram.logs, "Logs")}
							/>
						</section>
						<section class="card" aria-label="Spans over time">
							<h2>Spans</h2>
							<TimeChart
								label="Spans over time"
								kind="bars"
								height={160}
								{...chart(d.histogram.spans, "Spans")}
							/>
						</section>
					</div>
					<section class="card" aria-labelledby="recent-title">
						<h2 id="recent-title">Recent errors</h2>
						{d.recent_errors.length === 0 ? <Empty>No errors from this host in the range.</Empty> : null}
						<ErrorLines
							logs={d.recent_errors}
							logsOf={(log) => linkWithRange(query, "/logs", { service: log.service ?? "", host })}
						/>
					</section>
				</>
			)}
		</>
	);
}
