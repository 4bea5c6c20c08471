import { useLocation } from "preact-iso";
import { useTimeRange } from "../components/time-range";
import { PageHeader } from "../components/ui";

const TITLES: Record<string, [string, string]> = {
	"/query": ["Query", "The OQL editor with completion, charts and saved queries."],
	"/dashboards": ["Dashboards", "Grids of panels over OQL, with variables."],
};

/** The explorers come with the UI's part 2; until then each says what it will show and where the data is today. */
export function ComingSoon() {
	const { path } = useLocation();
	const [title, what] = TITLES[path] ?? ["Hexcovery", ""];
	const range = useTimeRange();
	return (
		<>
			<PageHeader title={title} subtitle={what} />
			<div class="card">
				<p>
					This view is not in the dashboard yet. Its data is already served by the API for the selected window
					({range.from.toLocaleString()} – {range.to.toLocaleString()}): see the{" "}
					<a href="/docs">API reference</a> (<code>/api/v1/pages/*</code>, <code>/api/v1/dsl</code>,{" "}
					<code>/api/v1/dashboards</code>).
				</p>
				<p>
					Meanwhile: <a href="/monitors">Monitors</a> shows your heartbeats, <a href="/settings">Settings</a>{" "}
					your API keys, users and teams.
				</p>
			</div>
		</>
	);
}

export function NotFound() {
	return (
		<>
			<PageHeader title="Page not found" />
			<p>
				Nothing lives at this address. Go to the <a href="/">overview</a>.
			</p>
		</>
	);
}
