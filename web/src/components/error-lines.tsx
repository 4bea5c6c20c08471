import type { components } from "../api/schema";
import { Badge, When } from "./ui";

type PageLog = components["schemas"]["PageLog"];

/**
 * Recent error logs, one a line (the overview's and a host's): when, the level, the service as a
 * link to its logs (`logsOf`), the body, and a link to the log's trace when it has one.
 */
export function ErrorLines({ logs, logsOf }: { logs: PageLog[]; logsOf: (log: PageLog) => string }) {
	return (
		<ul class="log-lines" aria-label="Recent errors">
			{logs.map((log) => (
				<li key={log.id}>
					<When at={log.time} /> <Badge kind={log.level ?? "neutral"}>{log.level ?? "—"}</Badge>{" "}
					<a href={logsOf(log)}>{log.service ?? "(none)"}</a> <span class="log-body">{log.body}</span>
					{log.trace_id ? (
						<>
							{" "}
							<a href={`/traces/${log.trace_id}`}>trace</a>
						</>
					) : null}
				</li>
			))}
		</ul>
	);
}
