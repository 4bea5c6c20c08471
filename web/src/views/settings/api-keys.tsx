import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { api, unwrap } from "../../api/client";
import type { components } from "../../api/schema";
import {
	Badge,
	CommandBlock,
	ConfirmDialog,
	CopyButton,
	Empty,
	ErrorNotice,
	Field,
	focusAfterRender,
	Loading,
	Notice,
	SecretField,
	When,
} from "../../components/ui";
import { useAction, useResource } from "../../components/use-resource";

type ApiKey = components["schemas"]["ApiKey"];
type CreatedKey = components["schemas"]["CreatedApiKey"];

export function ApiKeysTab() {
	const keys = useResource(() => unwrap(api.GET("/api/v1/api-keys")), []);
	// Which org the keys belong to, by name and id (the id is what `hexcovery org list` prints).
	const org = useResource(() => unwrap(api.GET("/api/v1/org")), []);
	const orgLabel = org.data ? (
		<>
			<strong>{org.data.name}</strong> (<code>{org.data.id}</code>)
		</>
	) : (
		"this organization"
	);
	const [created, setCreated] = useState<CreatedKey | null>(null);
	const [revoking, setRevoking] = useState<ApiKey | null>(null);
	const [renaming, setRenaming] = useState<string | null>(null);
	const revoke = useAction(async (key: ApiKey) => {
		await unwrap(api.DELETE("/api/v1/api-keys/{id}", { params: { path: { id: key.id } } }));
		setRevoking(null);
		await keys.reload();
	});
	return (
		<>
			<p class="subtitle">
				API keys let agents, CI jobs, scripts and OpenTelemetry exporters send data and run queries for{" "}
				{orgLabel}, in the <code>X-API-Key</code> header. What they send shows here, in this organization.
			</p>
			<CreateKeyForm
				onCreated={async (key) => {
					setCreated(key);
					await keys.reload();
				}}
			/>
			{created ? <NewKeySecret created={created} org={orgLabel} onDone={() => setCreated(null)} /> : null}
			<ErrorNotice problem={keys.error ?? revoke.error} />
			{keys.data === undefined ? (
				keys.loading ? (
					<Loading what="API keys" />
				) : null
			) : keys.data.data.length === 0 ? (
				<Empty>No API keys yet. Create one above to send data.</Empty>
			) : (
				<div class="table-wrap">
					<table aria-label="API keys">
						<thead>
							<tr>
								<th scope="col">Name</th>
								<th scope="col">Key</th>
								<th scope="col">Status</th>
								<th scope="col">Created</th>
								<th scope="col">Last used</th>
								<th scope="col">Expires</th>
								<th scope="col">
									<span class="visually-hidden">Actions</span>
								</th>
							</tr>
						</thead>
						<tbody>
							{keys.data.data.map((key) => (
								<tr key={key.id}>
									<td class="break">
										{renaming === key.id ? (
											<RenameForm
												apiKey={key}
												onDone={async () => {
													setRenaming(null);
													await keys.reload();
													// Back to the key's Rename button (the form's buttons are gone).
													focusAfterRender(`[data-rename="${key.id}"]`);
												}}
											/>
										) : (
											key.name
										)}
									</td>
									<td>
										<code>{key.start}…</code>
									</td>
									<td>
										<Badge kind={key.status} />
									</td>
									<td>
										<When at={key.created_at} />
									</td>
									<td>
										<When at={key.last_used_at} empty="never" />
									</td>
									<td>
										<When at={key.expires_at} empty="never" />
									</td>
									<td class="actions">
										{key.status === "active" ? (
											<>
												<button
													type="button"
													class="small"
													aria-label={`Rename ${key.name}`}
													data-rename={key.id}
													onClick={() => setRenaming(key.id)}
												>
													Rename
												</button>{" "}
												<button
													type="button"
													class="small danger"
													aria-label={`Revoke ${key.name}`}
													onClick={() => setRevoking(key)}
												>
													Revoke
												</button>
											</>
										) : null}
									</td>
								</tr>
							))}
						</tbody>
					</table>
				</div>
			)}
			<ConfirmDialog
				open={revoking !== null}
				title="Revoke this API key?"
				confirmLabel="Revoke key"
				danger
				busy={revoke.busy}
				onCancel={() => setRevoking(null)}
				onConfirm={() => revoking && void revoke.run(revoking)}
			>
				<p>
					<strong>{revoking?.name}</strong> (<code>{revoking?.start}…</code>) stops working within about a
					minute everywhere. Anything that still uses it will get 401. This cannot be undone.
				</p>
			</ConfirmDialog>
		</>
	);
}

function CreateKeyForm({ onCreated }: { onCreated: (key: CreatedKey) => void | Promise<void> }) {
	const [name, setName] = useState("");
	const [expires, setExpires] = useState("");
	const create = useAction(async () => {
		const body = { name, ...(expires ? { expires_at: new Date(`${expires}T23:59:59`).toISOString() } : {}) };
		const key = await unwrap(api.POST("/api/v1/api-keys", { body }));
		setName("");
		setExpires("");
		await onCreated(key);
	});
	return (
		<form
			class="card"
			aria-label="Create an API key"
			onSubmit={(e) => {
				e.preventDefault();
				void create.run();
			}}
		>
			<div class="row">
				<Field
					label="Key name"
					required
					maxLength={200}
					placeholder="github-actions deploy"
					value={name}
					onInput={(e) => setName(e.currentTarget.value)}
				/>
				<Field
					label="Expires (optional)"
					type="date"
					value={expires}
					onInput={(e) => setExpires(e.currentTarget.value)}
					hint="It stops working at the end of that day, in your time zone."
				/>
				<button type="submit" class="primary" aria-disabled={create.busy}>
					Create API key
				</button>
			</div>
			<ErrorNotice problem={create.error} />
		</form>
	);
}

function NewKeySecret({
	created,
	org,
	onDone,
}: {
	created: CreatedKey;
	org: ComponentChildren;
	onDone: () => void;
}) {
	const curl = `curl -s ${location.origin}/api/v1/annotations -H "X-API-Key: ${created.key}"`;
	return (
		<section class="card" aria-labelledby="new-key-title">
			<h2 id="new-key-title">New API key “{created.name}”</h2>
			<Notice kind="warn">
				Copy the key now: it is <strong>shown only this once</strong> and cannot be recovered.
			</Notice>
			<p>It belongs to {org}: everything sent with it lands there.</p>
			<div class="secret-box">
				<SecretField label="New API key" value={created.key} />
			</div>
			<h3>Try it</h3>
			<CommandBlock text={curl} />
			<CopyButton text={curl} label="Copy curl command" />{" "}
			<button type="button" class="small" onClick={onDone}>
				Done
			</button>
		</section>
	);
}

function RenameForm({ apiKey, onDone }: { apiKey: ApiKey; onDone: () => void | Promise<void> }) {
	const [name, setName] = useState(apiKey.name);
	// Opened: the focus goes to the new name (it stayed on Rename, across the row).
	const input = useRef<HTMLInputElement>(null);
	useEffect(() => {
		input.current?.focus();
		input.current?.select();
	}, []);
	const rename = useAction(async () => {
		await unwrap(api.PATCH("/api/v1/api-keys/{id}", { params: { path: { id: apiKey.id } }, body: { name } }));
		await onDone();
	});
	return (
		<form
			class="row"
			onSubmit={(e) => {
				e.preventDefault();
				void rename.run();
			}}
		>
			<Field
				label="New name"
				inputRef={input}
				required
				maxLength={200}
				value={name}
				onInput={(e) => setName(e.currentTarget.value)}
			/>
			<button type="submit" class="small primary" aria-disabled={rename.busy}>
				Save
			</button>
			<button type="button" class="small" onClick={() => void onDone()}>
				Cancel
			</button>
			<ErrorNotice problem={rename.error} />
		</form>
	);
}
