import { useLocation } from "preact-iso";
import { api, unwrap } from "../../api/client";
import { currentUser } from "../../api/session";
import { oqlWindow, rangeKey, rangeParams, runOql, timeseriesChart } from "../../api/telemetry";
import { roleAtLeast } from "../../auth/roles";
import { ErrorLines } from "../../components/error-lines";
import { formatMs } from "../../components/format";
import { type ChartMarker, TimeChart } from "../../components/time-chart";
import { linkWithRange, useTimeRange } from "../../components/time-range";
import { CommandBlock, CopyButton, Empty, ErrorNotice, Loading, PageHeader } from "../../components/ui";
import { useResource } from "../../components/use-resource";

const SERVER_SPANS = "FROM spans WHERE kind = 'server'";

/**
 * Per service: request rate, error rate and p95 latency over the global range, with deploy
 * markers; the busiest routes, recent errors and the heartbeats' summary. A service's name leads
 * to its logs and traces.
 */
export function OverviewPage() {
	const range = useTimeRange();
	const { query, route } = useLocation();
	const key = rangeKey(range);
	const window = oqlWindow(range);
	const zoom = (from: number, to: number) =>
		route(`/?from=${new Date(from).toISOString()}&to=${new Date(to).toISOString()}`);
	const summary = useResource(
		() => unwrap(api.GET("/api/v1/pages/overview", { params: { query: rangeParams(range) } })),
		[key],
	);
	const charts = useResource(async () => {
		const [rate, total, errors, latency] = await Promise.all([
			runOql(`SELECT rate(count(*), 1m) ${SERVER_SPANS} GROUP BY service TIMESERIES AUTO ${window}`),
			runOql(`SELECT count(*) ${SERVER_SPANS} GROUP BY service TIMESERIES AUTO ${window}`),
			runOql(
				`SELECT count(*) ${SERVER_SPANS} AND status = 'error' GROUP BY service TIMESERIES AUTO ${window}`,
			),
			runOql(`SELECT p95(duration_ms) ${SERVER_SPANS} GROUP BY service TIMESERIES AUTO ${window}`),
		]);
		const all = timeseriesChart(total);
		const failed = timeseriesChart(errors);
		// Error rate per bucket: that bucket's errors over its requests (null without requests).
		const errorRate = {
			times: all.times,
			series: all.series.map((s) => {
				const e = failed.series.find((f) => f.label === s.label);
				const eIndex = new Map(failed.times.map((t, i) => [t, i]));
				return {
					label: s.label,
					values: s.values.map((n, i) => {
						if (!n) return null;
						const at = eIndex.get(all.times[i] as number);
						const bad = at === undefined ? 0 : (e?.values[at] ?? 0);
						return (100 * (bad ?? 0)) / n;
					}),
				};
			}),
		};
		return { rate: timeseriesChart(rate), errorRate, latency: timeseriesChart(latency) };
	}, [key]);
	const routes = useResource(
		() =>
			runOql(
				`SELECT count(*), p95(duration_ms) ${SERVER_SPANS} GROUP BY service, name ORDER BY count(*) DESC LIMIT 10 ${window}`,
			),
		[key],
	);
	const recentErrors = useResource(
		() =>
			unwrap(
				api.GET("/api/v1/pages/logs", {
					params: { query: { ...rangeParams(range), level: "error,fatal", limit: 8 } },
				}),
			),
		[key],
	);
	const annotations = useResource(
		() =>
			unwrap(
				api.GET("/api/v1/annotations", {
					params: { query: { from: range.from.toISOString(), to: range.to.toISOString(), limit: 1000 } },
				}),
			),
		[key],
	);
	const markers: ChartMarker[] = (annotations.data?.data ?? []).map((a) => ({
		time: Date.parse(a.time),
		title: a.title,
	}));
	const withRange = (path: string, params: Record<string, string>) => linkWithRange(query, path, params);
	const s = summary.data;
	return (
		<>
			<PageHeader
				title="Overview"
				subtitle="Server spans per service, errors and heartbeats over the selected time range."
			/>
			<ErrorNotice problem={summary.error ?? charts.error} />
			{s ? (
				<div class="stats">
					{/* Each figure opens what it counts, in this range (only the last was a link, and looked
					    like the others). */}
					<Stat label="Spans" value={s.spans.count.toLocaleString()} href={withRange("/traces", {})} />
					<Stat
						label="Span error rate"
						value={percent(s.spans.error_rate)}
						href={withRange("/traces", { status: "error" })}
					/>
					<Stat label="Logs" value={s.logs.count.toLocaleString()} href={withRange("/logs", {})} />
					<Stat
						label="Error logs"
						value={s.logs.errors.toLocaleString()}
						href={withRange("/logs", { level: "error,fatal" })}
					/>
					<Stat
						label="Heartbeats down"
						value={`${s.heartbeats.down} / ${s.heartbeats.total}`}
						href="/monitors?status=down"
					/>
				</div>
			) : summary.loading ? (
				<Loading what="the overview" />
			) : null}
			{s && s.spans.count === 0 && s.logs.count === 0 ? <GettingStarted /> : null}
			<div class="chart-grid">
				<ChartCard
					title="Request rate (per minute)"
					data={charts.data?.rate}
					markers={markers}
					onZoom={zoom}
					loading={charts.loading}
				/>
				<ChartCard
					title="Error rate"
					unit="%"
					data={charts.data?.errorRate}
					markers={markers}
					onZoom={zoom}
					loading={charts.loading}
				/>
				<ChartCard
					title="p95 latency"
					unit=" ms"
					data={charts.data?.latency}
					markers={markers}
					onZoom={zoom}
					loading={charts.loading}
				/>
			</div>
			<div class="grid-2">
				<section class="card" aria-labelledby="routes-title">
					<h2 id="routes-title">Busiest routes</h2>
					<ErrorNotice problem={routes.error} />
					{routes.data && routes.data.rows.length === 0 ? (
						<Empty>No server spans in this range.</Empty>
					) : null}
					{routes.data && routes.data.rows.length > 0 ? (
						<div class="table-scroll">
							<table aria-label="Busiest routes">
								<thead>
									<tr>
										<th scope="col">Service</th>
										<th scope="col">Route</th>
										<th scope="col">Requests</th>
										<th scope="col">p95</th>
									</tr>
								</thead>
								<tbody>
									{routes.data.rows.map((row) => (
										<tr key={`${row[0]}-${row[1]}`}>
											<td>
												<a href={withRange("/traces", { service: String(row[0] ?? "") })}>
													{String(row[0] ?? "(none)")}
												</a>
											</td>
											<td class="break mono">{String(row[1])}</td>
											<td>{Number(row[2]).toLocaleString()}</td>
											<td>{row[3] === null ? "—" : formatMs(Number(row[3]))}</td>
										</tr>
									))}
								</tbody>
							</table>
						</div>
					) : null}
				</section>
				<section class="card" aria-labelledby="services-title">
					<h2 id="services-title">Services with errors</h2>
					{s && s.top_services.length === 0 ? <Empty>No errors in this range.</Empty> : null}
					{s && s.top_services.length > 0 ? (
						<div class="table-scroll">
							<table aria-label="Services with errors">
								<thead>
									<tr>
										<th scope="col">Service</th>
										<th scope="col">Error logs</th>
										<th scope="col">Error spans</th>
									</tr>
								</thead>
								<tbody>
									{s.top_services.map((t) => (
										<tr key={t.service ?? ""}>
											<td>
												<a href={withRange("/logs", { service: t.service ?? "", level: "error,fatal" })}>
													{t.service ?? "(none)"}
												</a>
											</td>
											<td>{t.log_errors.toLocaleString()}</td>
											<td>
												<a href={withRange("/traces", { service: t.service ?? "", status: "error" })}>
													{t.span_errors.toLocaleString()}
												</a>
											</td>
										</tr>
									))}
								</tbody>
							</table>
						</div>
					) : null}
				</section>
			</div>
			<section class="card" aria-labelledby="errors-title">
				<h2 id="errors-title">Recent errors</h2>
				<ErrorNotice problem={recentErrors.error} />
				{recentErrors.data && recentErrors.data.data.length === 0 ? (
					<Empty>No error logs in this range.</Empty>
				) : null}
				{recentErrors.data && recentErrors.data.data.length > 0 ? (
					<ErrorLines
						logs={recentErrors.data.data}
						logsOf={(log) => withRange("/logs", { service: log.service ?? "" })}
					/>
				) : null}
			</section>
		</>
	);
}

function percent(rate: number | null): string {
	// "9.1%", as the error-rate chart's axis writes "100%".
	return rate === null ? "—" : `${(rate * 100).toFixed(rate < 0.01 ? 2 : 1)}%`;
}

function Stat({ label, value, href }: { label: string; value: string; href: string }) {
	return (
		<a class="stat" href={href}>
			<span class="stat-label">{label}</span>
			<span class="stat-value">{value}</span>
		</a>
	);
}

function ChartCard(props: {
	title: string;
	unit?: string;
	data: { times: number[]; series: { label: string; values: Array<number | null> }[] } | undefined;
	markers: ChartMarker[];
	loading: boolean;
	onZoom: (from: number, to: number) => void;
}) {
	return (
		<section class="card" aria-label={props.title}>
			<h2>{props.title}</h2>
			{props.data && props.data.series.length > 0 ? (
				<TimeChart
					label={props.title}
					times={props.data.times}
					series={props.data.series}
					markers={props.markers}
					unit={props.unit}
					onZoom={props.onZoom}
				/>
			) : props.data ? (
				<Empty>No server spans in this range.</Empty>
			) : props.loading ? (
				<Loading what="the chart" />
			) : null}
		</section>
	);
}

/**
 * A range without spans or logs — a new organization's first view: how to send them (the README's
 * SDK settings, with this server's address).
 */
function GettingStarted() {
	// Placeholders a person fills in: a copied "checkout" named every service that.
	const settings = `OTEL_EXPORTER_OTLP_ENDPOINT=${location.origin}\nOTEL_EXPORTER_OTLP_HEADERS="X-API-Key=<your key>"\nOTEL_SERVICE_NAME=<your service's name>`;
	const isAdmin = roleAtLeast(currentUser.value?.role, "admin");
	return (
		<section class="card" aria-labelledby="getting-started-title">
			<h2 id="getting-started-title">Nothing received in this range</h2>
			<p>
				If nothing sends telemetry here yet,{" "}
				{isAdmin ? (
					<>
						create an API key in <a href="/settings/api-keys">Settings → API keys</a>
					</>
				) : (
					"ask an admin of your organization for an API key"
				)}{" "}
				and point any OpenTelemetry SDK or Collector at this server:
			</p>
			<CommandBlock text={settings} />
			<CopyButton text={settings} label="Copy settings" />
			<p class="subtitle">Spans and logs show up here within seconds of their export.</p>
		</section>
	);
}
