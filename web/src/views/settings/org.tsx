import { useEffect, useState } from "preact/hooks";
import { api, unwrap } from "../../api/client";
import { currentUser } from "../../api/session";
import { roleAtLeast } from "../../auth/roles";
import { ErrorNotice, Field, Loading, Notice, When } from "../../components/ui";
import { useAction, useResource } from "../../components/use-resource";

export function OrgTab() {
	const isAdmin = roleAtLeast(currentUser.value?.role, "admin");
	const org = useResource(() => unwrap(api.GET("/api/v1/org")), []);
	const [name, setName] = useState("");
	const [retention, setRetention] = useState("30");
	const [saved, setSaved] = useState(false);
	useEffect(() => {
		if (!org.data) return;
		setName(org.data.name);
		setRetention(String(org.data.retention_days));
	}, [org.data]);
	const save = useAction(async () => {
		await unwrap(api.PATCH("/api/v1/org", { body: { name, retention_days: Number(retention) } }));
		setSaved(true);
		await org.reload();
	});
	if (!org.data)
		return org.loading ? <Loading what="the organization" /> : <ErrorNotice problem={org.error} />;
	return (
		<form
			class="card stack"
			aria-label="Organization settings"
			onSubmit={(e) => {
				e.preventDefault();
				setSaved(false);
				void save.run();
			}}
		>
			<dl class="kv">
				<dt>Organization ID</dt>
				<dd>
					<code>{org.data.id}</code>
				</dd>
				<dt>Created</dt>
				<dd>
					<When at={org.data.created_at} />
				</dd>
			</dl>
			{isAdmin ? null : <p class="subtitle">Only admins can change organization settings.</p>}
			<Field
				label="Organization name"
				required
				maxLength={200}
				readOnly={!isAdmin}
				value={name}
				onInput={(e) => setName(e.currentTarget.value)}
			/>
			<Field
				label="Retention (days)"
				type="number"
				min={1}
				max={3650}
				required
				readOnly={!isAdmin}
				value={retention}
				onInput={(e) => setRetention(e.currentTarget.value)}
				hint="Logs, traces, metrics and pings older than this are deleted."
			/>
			<ErrorNotice problem={save.error} />
			{saved ? <Notice kind="success">Saved.</Notice> : null}
			{isAdmin ? (
				<div>
					<button type="submit" class="primary" disabled={save.busy}>
						Save settings
					</button>
				</div>
			) : null}
		</form>
	);
}
