import { useState } from "preact/hooks";
import { api, unwrap } from "../../api/client";
import type { components } from "../../api/schema";
import { currentUser } from "../../api/session";
import { roleAtLeast } from "../../auth/roles";
import { ConfirmDialog, ErrorNotice, Field, Loading, Notice, When } from "../../components/ui";
import { useAction, useResource } from "../../components/use-resource";

type Org = components["schemas"]["Org"];

export function OrgTab() {
	const org = useResource(() => unwrap(api.GET("/api/v1/org")), []);
	if (!org.data)
		return org.loading ? <Loading what="the organization" /> : <ErrorNotice problem={org.error} />;
	return <OrgForm org={org.data} onSaved={org.reload} />;
}

/**
 * The form starts from the stored settings in its first frame: filled in by an effect, it showed an
 * empty name for a frame, and what was typed in that frame was overwritten.
 */
function OrgForm(props: { org: Org; onSaved: () => Promise<unknown> }) {
	const { org } = props;
	const isAdmin = roleAtLeast(currentUser.value?.role, "admin");
	const [name, setName] = useState(org.name);
	const [retention, setRetention] = useState(String(org.retention_days));
	const [saved, setSaved] = useState(false);
	/** A shorter retention deletes data at once: asked first. */
	const [confirmShorter, setConfirmShorter] = useState(false);
	const save = useAction(async () => {
		setConfirmShorter(false);
		const stored = await unwrap(
			api.PATCH("/api/v1/org", { body: { name, retention_days: Number(retention) } }),
		);
		// As the server keeps them (a name is trimmed).
		setName(stored.name);
		setRetention(String(stored.retention_days));
		setSaved(true);
		await props.onSaved();
	});
	return (
		<form
			class="card stack"
			aria-label="Organization settings"
			onSubmit={(e) => {
				e.preventDefault();
				setSaved(false);
				if (Number(retention) < org.retention_days) setConfirmShorter(true);
				else void save.run();
			}}
		>
			<dl class="kv">
				<dt>Organization ID</dt>
				<dd>
					<code>{org.id}</code>
				</dd>
				<dt>Created</dt>
				<dd>
					<When at={org.created_at} />
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
					<button type="submit" class="primary" aria-disabled={save.busy}>
						Save settings
					</button>
				</div>
			) : null}
			<ConfirmDialog
				open={confirmShorter}
				title="Delete older data?"
				confirmLabel={`Keep ${retention} days`}
				danger
				busy={save.busy}
				onCancel={() => setConfirmShorter(false)}
				onConfirm={() => void save.run()}
			>
				<p>
					Logs, traces, metrics and pings older than {retention} days are deleted (they are kept for{" "}
					{org.retention_days} days now). This cannot be undone.
				</p>
			</ConfirmDialog>
		</form>
	);
}
