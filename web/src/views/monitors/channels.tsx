import { useState } from "preact/hooks";
import { api, unwrap } from "../../api/client";
import type { components } from "../../api/schema";
import { currentUser } from "../../api/session";
import { roleAtLeast } from "../../auth/roles";
import {
	Badge,
	ConfirmDialog,
	Empty,
	ErrorNotice,
	Field,
	Loading,
	Notice,
	PageHeader,
	When,
} from "../../components/ui";
import { useAction, useResource } from "../../components/use-resource";
import { allMonitors } from "./list";

type Channel = components["schemas"]["NotificationChannel"];
type TestResult = components["schemas"]["NotificationTestResult"];

/** Webhook and Slack channels that every monitor's flips to and from `down` are sent to. */
export function ChannelsPage() {
	const canWrite = roleAtLeast(currentUser.value?.role, "member");
	const channels = useResource(() => unwrap(api.GET("/api/v1/notification-channels")), []);
	const [editing, setEditing] = useState<Channel | null>(null);
	/** A new form after each add: the last channel's name and URL must not stay to be added twice. */
	const [forms, setForms] = useState(0);
	const [deleting, setDeleting] = useState<Channel | null>(null);
	const [logOf, setLogOf] = useState<string | null>(null);
	const [tested, setTested] = useState<{ channel: string; result: TestResult } | null>(null);
	const test = useAction(async (channel: Channel) => {
		const result = await unwrap(
			api.POST("/api/v1/notification-channels/{id}/test", { params: { path: { id: channel.id } } }),
		);
		setTested({ channel: channel.name, result });
	});
	const remove = useAction(async (channel: Channel) => {
		await unwrap(api.DELETE("/api/v1/notification-channels/{id}", { params: { path: { id: channel.id } } }));
		setDeleting(null);
		await channels.reload();
	});
	return (
		<>
			<p>
				<a href="/monitors">← Monitors</a>
			</p>
			<PageHeader
				title="Notification channels"
				subtitle="Every monitor that goes down or comes back is announced to each enabled channel."
			/>
			{canWrite ? (
				<ChannelForm
					key={editing?.id ?? `new-${forms}`}
					channel={editing}
					onDone={async () => {
						setEditing(null);
						setForms((n) => n + 1);
						await channels.reload();
					}}
				/>
			) : (
				<p class="subtitle">Members and up can add or change channels.</p>
			)}
			{tested ? (
				tested.result.status === "delivered" ? (
					<Notice kind="success">
						Test sent to {tested.channel}: the receiver answered {tested.result.response_status}.
					</Notice>
				) : (
					<div class="notice error" role="alert">
						<strong>The test to {tested.channel} failed</strong>:{" "}
						{tested.result.error ?? `HTTP ${tested.result.response_status}`}
					</div>
				)
			) : null}
			<ErrorNotice problem={channels.error ?? test.error ?? remove.error} />
			{channels.data === undefined ? (
				channels.loading ? (
					<Loading what="channels" />
				) : null
			) : channels.data.data.length === 0 ? (
				<Empty>No channels yet: alerts have nowhere to go.</Empty>
			) : (
				<div class="table-wrap">
					<table aria-label="Notification channels">
						<thead>
							<tr>
								<th scope="col">Channel</th>
								<th scope="col">Format</th>
								<th scope="col">Status</th>
								<th scope="col">
									<span class="visually-hidden">Actions</span>
								</th>
							</tr>
						</thead>
						<tbody>
							{channels.data.data.map((ch) => (
								<>
									<tr key={ch.id}>
										<td class="break">
											{ch.name}
											<span class="sub mono">{ch.url}</span>
										</td>
										<td>
											{ch.format === "slack" ? "Slack" : "JSON webhook"}
											{ch.has_secret ? <span class="sub">signed</span> : null}
										</td>
										<td>
											{ch.enabled ? (
												<Badge kind="active">enabled</Badge>
											) : (
												<Badge kind="paused">disabled</Badge>
											)}
										</td>
										<td class="actions">
											<button
												type="button"
												class="small"
												aria-expanded={logOf === ch.id}
												onClick={() => setLogOf(logOf === ch.id ? null : ch.id)}
											>
												Delivery log
											</button>{" "}
											{canWrite ? (
												<>
													<button
														type="button"
														class="small"
														aria-disabled={test.busy}
														aria-label={`Send test to ${ch.name}`}
														onClick={() => void test.run(ch)}
													>
														Send test
													</button>{" "}
													<button
														type="button"
														class="small"
														aria-label={`Edit ${ch.name}`}
														onClick={() => setEditing(ch)}
													>
														Edit
													</button>{" "}
													<button
														type="button"
														class="small danger"
														aria-label={`Delete ${ch.name}`}
														onClick={() => setDeleting(ch)}
													>
														Delete
													</button>
												</>
											) : null}
										</td>
									</tr>
									{logOf === ch.id ? (
										<tr key={`${ch.id}-log`}>
											<td colSpan={4}>
												<DeliveryLog channelId={ch.id} refreshKey={tested?.result.delivery_id ?? 0} />
											</td>
										</tr>
									) : null}
								</>
							))}
						</tbody>
					</table>
				</div>
			)}
			<ConfirmDialog
				open={deleting !== null}
				title="Delete this channel?"
				confirmLabel="Delete channel"
				danger
				busy={remove.busy}
				onCancel={() => setDeleting(null)}
				onConfirm={() => deleting && void remove.run(deleting)}
			>
				<p>
					<strong>{deleting?.name}</strong> and its delivery log are deleted; alerts still queued for it are
					dropped.
				</p>
			</ConfirmDialog>
		</>
	);
}

function ChannelForm(props: { channel: Channel | null; onDone: () => void | Promise<void> }) {
	const editing = props.channel;
	const [name, setName] = useState(editing?.name ?? "");
	const [url, setUrl] = useState(editing?.url ?? "");
	const [secret, setSecret] = useState("");
	const [enabled, setEnabled] = useState(editing?.enabled ?? true);
	const save = useAction(async () => {
		if (editing) {
			const body = { name, enabled, ...(url !== editing.url ? { url } : {}), ...(secret ? { secret } : {}) };
			await unwrap(
				api.PATCH("/api/v1/notification-channels/{id}", { params: { path: { id: editing.id } }, body }),
			);
		} else {
			await unwrap(
				api.POST("/api/v1/notification-channels", {
					body: { name, type: "webhook", url, enabled, ...(secret ? { secret } : {}) },
				}),
			);
		}
		await props.onDone();
	});
	return (
		<form
			class="card stack"
			aria-label={editing ? `Edit channel ${editing.name}` : "Add a channel"}
			onSubmit={(e) => {
				e.preventDefault();
				void save.run();
			}}
		>
			<h2>{editing ? `Edit “${editing.name}”` : "Add a channel"}</h2>
			<div class="row">
				<Field
					label="Channel name"
					required
					maxLength={200}
					value={name}
					onInput={(e) => setName(e.currentTarget.value)}
					placeholder="On-call webhook"
				/>
				<Field
					label="Webhook URL"
					type="url"
					required
					value={url}
					onInput={(e) => setUrl(e.currentTarget.value)}
					placeholder="https://hooks.slack.com/services/…"
					hint="A hooks.slack.com URL gets Slack's message format; any other gets JSON."
				/>
				<Field
					label={editing?.has_secret ? "New signing secret (optional)" : "Signing secret (optional)"}
					type="password"
					minLength={16}
					maxLength={256}
					value={secret}
					onInput={(e) => setSecret(e.currentTarget.value)}
					hint="Signs each delivery (X-Hexcovery-Signature)."
				/>
			</div>
			<label class="checkbox">
				<input type="checkbox" checked={enabled} onChange={(e) => setEnabled(e.currentTarget.checked)} />
				Enabled
			</label>
			<ErrorNotice problem={save.error} />
			<div class="row">
				<button type="submit" class="primary" aria-disabled={save.busy}>
					{editing ? "Save channel" : "Add channel"}
				</button>
				{editing ? (
					<button type="button" onClick={() => void props.onDone()}>
						Cancel
					</button>
				) : null}
			</div>
		</form>
	);
}

function DeliveryLog({ channelId, refreshKey }: { channelId: string; refreshKey: number }) {
	const log = useResource(
		() =>
			unwrap(
				api.GET("/api/v1/notification-channels/{id}/deliveries", {
					params: { path: { id: channelId }, query: { limit: 50 } },
				}),
			),
		[channelId, refreshKey],
	);
	// A delivery names its monitor by id: the log says which monitor, by the name a person knows.
	const monitors = useResource(
		async () => new Map((await allMonitors()).map((m) => [m.id, m])),
		[refreshKey],
	);
	if (log.error) return <ErrorNotice problem={log.error} />;
	if (!log.data) return <Loading what="deliveries" />;
	if (log.data.data.length === 0) return <Empty>Nothing sent to this channel yet.</Empty>;
	return (
		<div class="table-scroll">
			<table aria-label="Delivery log">
				<thead>
					<tr>
						<th scope="col">Sent</th>
						<th scope="col">Event</th>
						<th scope="col">Outcome</th>
						<th scope="col">Attempts</th>
					</tr>
				</thead>
				<tbody>
					{log.data.data.map((d) => (
						<tr key={d.id}>
							<td>
								<When at={d.last_attempt_at ?? d.created_at} />
							</td>
							<td>
								{d.event === "test" ? (
									"Test"
								) : (
									<MonitorNamed
										monitor={
											// Deleted only when the list is read and lacks it; unknown while it loads or failed.
											monitors.data === undefined
												? null
												: d.monitor_id
													? (monitors.data.get(d.monitor_id) ?? "deleted")
													: "deleted"
										}
									/>
								)}
							</td>
							<td>
								<Badge kind={d.status} /> {d.response_status ? `HTTP ${d.response_status}` : ""}{" "}
								{d.error ?? ""}
							</td>
							<td>{d.attempts}</td>
						</tr>
					))}
				</tbody>
			</table>
		</div>
	);
}

/** "Status of nightly-backup", linked; a monitor deleted since as such; "A monitor's status" while unknown. */
function MonitorNamed({ monitor }: { monitor: { slug: string; name: string | null } | "deleted" | null }) {
	if (monitor === null) return <>A monitor's status</>;
	if (monitor === "deleted") return <>Status of a deleted monitor</>;
	return (
		<>
			Status of <a href={`/monitors/${encodeURIComponent(monitor.slug)}`}>{monitor.name ?? monitor.slug}</a>
		</>
	);
}
