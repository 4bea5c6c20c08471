import { useState } from "preact/hooks";
import { useLocation } from "preact-iso";
import { api, unwrap } from "../../api/client";
import { currentUser } from "../../api/session";
import { ROLE_LABELS, roleAtLeast } from "../../auth/roles";
import { ConfirmDialog, Empty, ErrorNotice, Field, Loading, SelectField } from "../../components/ui";
import { useAction, useResource } from "../../components/use-resource";

export function TeamsTab() {
	const isAdmin = roleAtLeast(currentUser.value?.role, "admin");
	const teams = useResource(() => unwrap(api.GET("/api/v1/teams")), []);
	const [name, setName] = useState("");
	const [description, setDescription] = useState("");
	const create = useAction(async () => {
		await unwrap(api.POST("/api/v1/teams", { body: { name, description: description || null } }));
		setName("");
		setDescription("");
		await teams.reload();
	});
	return (
		<>
			{isAdmin ? (
				<form
					class="card"
					aria-label="Create a team"
					onSubmit={(e) => {
						e.preventDefault();
						void create.run();
					}}
				>
					<div class="row">
						<Field
							label="Team name"
							required
							maxLength={200}
							value={name}
							onInput={(e) => setName(e.currentTarget.value)}
						/>
						<Field
							label="Description (optional)"
							maxLength={2000}
							value={description}
							onInput={(e) => setDescription(e.currentTarget.value)}
						/>
						<button type="submit" class="primary" aria-disabled={create.busy}>
							Create team
						</button>
					</div>
					<ErrorNotice problem={create.error} />
				</form>
			) : (
				<p class="subtitle">Only admins can create teams or change their members.</p>
			)}
			<ErrorNotice problem={teams.error} />
			{teams.data === undefined ? (
				teams.loading ? (
					<Loading what="teams" />
				) : null
			) : teams.data.data.length === 0 ? (
				<Empty>No teams yet.</Empty>
			) : (
				<div class="table-wrap">
					<table aria-label="Teams">
						<thead>
							<tr>
								<th scope="col">Team</th>
								<th scope="col">Members</th>
							</tr>
						</thead>
						<tbody>
							{teams.data.data.map((team) => (
								<tr key={team.id}>
									<td class="break">
										<a href={`/settings/teams/${team.id}`}>{team.name}</a>
										{team.description ? <span class="sub">{team.description}</span> : null}
									</td>
									<td>{team.member_count}</td>
								</tr>
							))}
						</tbody>
					</table>
				</div>
			)}
		</>
	);
}

export function TeamDetail({ id }: { id: string }) {
	const { route } = useLocation();
	const isAdmin = roleAtLeast(currentUser.value?.role, "admin");
	const team = useResource(() => unwrap(api.GET("/api/v1/teams/{id}", { params: { path: { id } } })), [id]);
	const users = useResource(() => unwrap(api.GET("/api/v1/users")), []);
	const [adding, setAdding] = useState("");
	const [deleting, setDeleting] = useState(false);
	const member = useAction(async (userId: string, add: boolean) => {
		const params = { params: { path: { id, user_id: userId } } };
		await unwrap(
			add
				? api.PUT("/api/v1/teams/{id}/members/{user_id}", params)
				: api.DELETE("/api/v1/teams/{id}/members/{user_id}", params),
		);
		setAdding("");
		await team.reload();
	});
	const remove = useAction(async () => {
		await unwrap(api.DELETE("/api/v1/teams/{id}", { params: { path: { id } } }));
		route("/settings/teams");
	});
	const members = team.data?.members ?? [];
	const candidates = (users.data?.data ?? []).filter((u) => !members.some((m) => m.id === u.id));
	return (
		<>
			<p>
				<a href="/settings/teams">← All teams</a>
			</p>
			<ErrorNotice problem={team.error ?? member.error ?? remove.error} />
			{team.data ? (
				<section class="card" aria-labelledby="team-title">
					<h2 id="team-title">{team.data.name}</h2>
					{team.data.description ? <p>{team.data.description}</p> : null}
					{isAdmin ? (
						<form
							class="row"
							onSubmit={(e) => {
								e.preventDefault();
								if (adding) void member.run(adding, true);
							}}
						>
							<SelectField
								label="Add a member"
								value={adding}
								options={[
									["", "Choose a user…"],
									...candidates.map((u): [string, string] => [u.id, `${u.name} <${u.email}>`]),
								]}
								onChange={(e) => setAdding(e.currentTarget.value)}
							/>
							<button type="submit" disabled={!adding} aria-disabled={member.busy}>
								Add member
							</button>
							<span class="spacer" />
							<button type="button" class="danger" onClick={() => setDeleting(true)}>
								Delete team
							</button>
						</form>
					) : null}
					{members.length === 0 ? (
						<Empty>No members yet.</Empty>
					) : (
						<div class="table-scroll">
							<table aria-label="Members">
								<thead>
									<tr>
										<th scope="col">Member</th>
										<th scope="col">Role</th>
										<th scope="col">
											<span class="visually-hidden">Actions</span>
										</th>
									</tr>
								</thead>
								<tbody>
									{members.map((m) => (
										<tr key={m.id}>
											<td class="break">
												{m.name}
												<span class="sub">{m.email}</span>
											</td>
											<td>{ROLE_LABELS[m.role]}</td>
											<td class="actions">
												{isAdmin ? (
													<button
														type="button"
														class="small"
														aria-label={`Remove ${m.name} from the team`}
														onClick={() => void member.run(m.id, false)}
													>
														Remove
													</button>
												) : null}
											</td>
										</tr>
									))}
								</tbody>
							</table>
						</div>
					)}
				</section>
			) : team.loading ? (
				<Loading what="the team" />
			) : null}
			<ConfirmDialog
				open={deleting}
				title="Delete this team?"
				confirmLabel="Delete team"
				danger
				busy={remove.busy}
				onCancel={() => setDeleting(false)}
				onConfirm={() => void remove.run()}
			>
				<p>The team is removed; its members keep their accounts.</p>
			</ConfirmDialog>
		</>
	);
}
