import { useState } from "preact/hooks";
import { api, unwrap } from "../../api/client";
import type { components } from "../../api/schema";
import { currentUser } from "../../api/session";
import { ROLE_LABELS, type Role, roleAtLeast } from "../../auth/roles";
import {
	Badge,
	ConfirmDialog,
	Empty,
	ErrorNotice,
	Field,
	focusAfterRender,
	Loading,
	Notice,
	SecretField,
	SelectField,
	When,
} from "../../components/ui";
import { useAction, useResource } from "../../components/use-resource";

type User = components["schemas"]["User"];
type Invited = components["schemas"]["InvitedUser"];

const ROLES: Role[] = ["viewer", "member", "admin", "owner"];
type UserChange = { role?: Role; disabled?: boolean };

/** The sign-in page with the organization filled in: the invited account, whatever else the address has. */
function signInLink(orgId: string): string {
	return `${location.origin}/sign-in?org=${encodeURIComponent(orgId)}`;
}

export function UsersTab() {
	const me = currentUser.value;
	const isAdmin = roleAtLeast(me?.role, "admin");
	const isOwner = me?.role === "owner";
	const users = useResource(() => unwrap(api.GET("/api/v1/users")), []);
	const [invited, setInvited] = useState<Invited | null>(null);
	const [deleting, setDeleting] = useState<User | null>(null);
	/** A change that cannot be taken back by the one who makes it, waiting for a yes. */
	const [confirming, setConfirming] = useState<{ user: User; body: UserChange } | null>(null);
	/**
	 * Roles chosen in a row's picker, not yet saved: a choice takes a Save (with the keyboard, each
	 * arrow key in a closed picker is a choice; applying it at once changed the role on the first).
	 */
	const [chosenRoles, setChosenRoles] = useState<Record<string, Role>>({});
	const forgetChosenRole = (userId: string) => setChosenRoles(({ [userId]: _, ...others }) => others);
	/** Back to the row's picker once its Save and Cancel are gone (the focus fell to the page's start). */
	const focusRolePicker = (userId: string) => focusAfterRender(`[data-role-of="${userId}"] select`);
	const update = useAction(async (user: User, body: UserChange) => {
		await unwrap(api.PATCH("/api/v1/users/{id}", { params: { path: { id: user.id } }, body }));
		setConfirming(null);
		if (body.role) forgetChosenRole(user.id);
		await users.reload();
		if (body.role) focusRolePicker(user.id);
	});
	const saveRole = (user: User, role: Role) =>
		// Only an owner can undo making someone an owner: asked first.
		role === "owner" ? setConfirming({ user, body: { role } }) : void update.run(user, { role });
	/** A user whose lost 2FA an admin turns off, with the admin's own password (asked in the dialog). */
	const [resetting, setResetting] = useState<User | null>(null);
	const [resetPassword, setResetPassword] = useState("");
	const [resetDone, setResetDone] = useState<User | null>(null);
	/** "Turn 2FA off" pressed with no password: said under the field (it did nothing, and said nothing). */
	const [resetEmpty, setResetEmpty] = useState(false);
	const closeReset = () => {
		setResetting(null);
		setResetPassword("");
		setResetEmpty(false);
		resetTwoFactor.setError(null);
	};
	const resetTwoFactor = useAction(async (user: User) => {
		await unwrap(
			api.POST("/api/v1/users/{id}/totp/reset", {
				params: { path: { id: user.id } },
				body: { password: resetPassword },
			}),
		);
		closeReset();
		setResetDone(user);
		await users.reload();
	});
	const remove = useAction(async (user: User) => {
		await unwrap(api.DELETE("/api/v1/users/{id}", { params: { path: { id: user.id } } }));
		setDeleting(null);
		await users.reload();
	});
	// Owners' accounts are changed by owners only; nobody changes their own role here.
	const canManage = (user: User) => isAdmin && user.id !== me?.id && (user.role !== "owner" || isOwner);
	return (
		<>
			{isAdmin ? (
				<InviteForm
					canInviteOwner={isOwner}
					onInvited={async (user) => {
						setInvited(user);
						await users.reload();
					}}
				/>
			) : (
				<p class="subtitle">Only admins can invite users or change roles.</p>
			)}
			{resetDone ? (
				<Notice kind="success">
					Two-factor authentication is off for {resetDone.name}; they were signed out everywhere.
				</Notice>
			) : null}
			{invited ? (
				<section class="card invited-card" aria-labelledby="invited-title">
					<h2 id="invited-title">Invited {invited.name}</h2>
					<Notice kind="warn">
						Give {invited.email} this one-time password over a trusted channel. It is{" "}
						<strong>shown only this once</strong>; they choose their own when they first sign in.
					</Notice>
					<div class="secret-box">
						<SecretField label="One-time password" value={invited.initial_password} />
					</div>
					<div class="secret-box">
						<SecretField label="Sign-in link" value={signInLink(invited.org_id)} />
					</div>
					<p class="subtitle">
						The link opens sign-in for this organization, so it reaches this account even when {invited.email}{" "}
						also has one in another organization.
					</p>
					<button type="button" class="small" onClick={() => setInvited(null)}>
						Done
					</button>
				</section>
			) : null}
			<ErrorNotice problem={users.error ?? update.error ?? remove.error} />
			{users.data === undefined ? (
				users.loading ? (
					<Loading what="users" />
				) : null
			) : users.data.data.length === 0 ? (
				<Empty>No users.</Empty>
			) : (
				<div class="table-wrap">
					<table aria-label="Users">
						<thead>
							<tr>
								<th scope="col">User</th>
								<th scope="col">Role</th>
								<th scope="col">Two-factor</th>
								<th scope="col">Status</th>
								<th scope="col">Added</th>
								<th scope="col">
									<span class="visually-hidden">Actions</span>
								</th>
							</tr>
						</thead>
						<tbody>
							{users.data.data.map((user) => (
								<tr key={user.id}>
									<td class="break">
										{user.name}
										{user.id === me?.id ? " (you)" : ""}
										<span class="sub">{user.email}</span>
									</td>
									<td>
										{canManage(user) ? (
											<span class="row role-picker" data-role-of={user.id}>
												<SelectField
													label={`Role of ${user.name}`}
													hideLabel
													value={chosenRoles[user.id] ?? user.role}
													options={ROLES.filter((r) => r !== "owner" || isOwner).map((r) => [
														r,
														ROLE_LABELS[r],
													])}
													onChange={(e) => {
														const role = e.currentTarget.value as Role;
														if (role === user.role) forgetChosenRole(user.id);
														else setChosenRoles((chosen) => ({ ...chosen, [user.id]: role }));
													}}
												/>
												{chosenRoles[user.id] !== undefined ? (
													<>
														<button
															type="button"
															class="small primary"
															aria-label={`Save the role of ${user.name}`}
															aria-disabled={update.busy}
															onClick={() => {
																const role = chosenRoles[user.id];
																if (role !== undefined && !update.busy) saveRole(user, role);
															}}
														>
															Save
														</button>
														<button
															type="button"
															class="small"
															aria-label={`Keep the role of ${user.name}`}
															onClick={() => {
																forgetChosenRole(user.id);
																focusRolePicker(user.id);
															}}
														>
															Cancel
														</button>
													</>
												) : null}
											</span>
										) : (
											ROLE_LABELS[user.role]
										)}
										{confirming === null && update.error && chosenRoles[user.id] !== undefined ? (
											<ErrorNotice problem={update.error} />
										) : null}
									</td>
									<td>
										{user.totp_enabled ? "On" : "Off"}
										{user.totp_enabled && canManage(user) ? (
											<>
												{" "}
												<button
													type="button"
													class="small"
													aria-label={`Reset 2FA of ${user.name}`}
													onClick={() => {
														setResetDone(null);
														setResetting(user);
													}}
												>
													Reset
												</button>
											</>
										) : null}
									</td>
									<td>
										{user.disabled ? (
											<Badge kind="disabled" />
										) : user.must_change_password ? (
											<Badge kind="pending">invited</Badge>
										) : (
											<Badge kind="active" />
										)}
									</td>
									<td>
										<When at={user.created_at} />
									</td>
									<td class="actions">
										{canManage(user) ? (
											<>
												<button
													type="button"
													class="small"
													aria-label={`${user.disabled ? "Enable" : "Disable"} ${user.name}`}
													onClick={() =>
														user.disabled
															? void update.run(user, { disabled: false })
															: setConfirming({ user, body: { disabled: true } })
													}
												>
													{user.disabled ? "Enable" : "Disable"}
												</button>{" "}
												<button
													type="button"
													class="small danger"
													aria-label={`Delete ${user.name}`}
													onClick={() => setDeleting(user)}
												>
													Delete
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
				open={resetting !== null}
				title="Turn off this user's two-factor authentication?"
				confirmLabel="Turn 2FA off"
				danger
				busy={resetTwoFactor.busy}
				onCancel={closeReset}
				onConfirm={() => {
					if (!resetting) return;
					setResetEmpty(resetPassword === "");
					if (resetPassword !== "") void resetTwoFactor.run(resetting);
				}}
			>
				<p>
					For <strong>{resetting?.name}</strong> ({resetting?.email}), who lost both their authenticator and
					their recovery codes: they are signed out everywhere and sign in with their password alone, then can
					turn 2FA on again from their account page.
				</p>
				<Field
					label="Your password"
					type="password"
					autoComplete="current-password"
					required
					value={resetPassword}
					error={resetEmpty ? "Enter your own password." : null}
					onInput={(e) => {
						setResetEmpty(false);
						setResetPassword((e.currentTarget as HTMLInputElement).value);
					}}
				/>
				<ErrorNotice problem={resetting ? resetTwoFactor.error : null} />
			</ConfirmDialog>
			<ConfirmDialog
				open={deleting !== null}
				title="Delete this user?"
				confirmLabel="Delete user"
				danger
				busy={remove.busy}
				onCancel={() => setDeleting(null)}
				onConfirm={() => deleting && void remove.run(deleting)}
			>
				<p>
					<strong>{deleting?.name}</strong> ({deleting?.email}) is signed out everywhere and removed from
					every team.
				</p>
			</ConfirmDialog>
			<ConfirmDialog
				open={confirming !== null}
				title={confirming?.body.disabled ? "Disable this user?" : "Make this user an owner?"}
				confirmLabel={confirming?.body.disabled ? "Disable user" : "Make owner"}
				danger
				busy={update.busy}
				onCancel={() => {
					// "Cancel" changes nothing: the picker shows the role the user has.
					if (confirming?.body.role) forgetChosenRole(confirming.user.id);
					setConfirming(null);
				}}
				onConfirm={() => confirming && void update.run(confirming.user, confirming.body)}
			>
				<ErrorNotice problem={confirming ? update.error : null} />
				{confirming?.body.disabled ? (
					<p>
						<strong>{confirming.user.name}</strong> ({confirming.user.email}) is signed out everywhere and
						cannot sign in until an admin enables the account again. API keys they created belong to the
						organization and keep working (revoke them under API keys).
					</p>
				) : (
					<p>
						<strong>{confirming?.user.name}</strong> ({confirming?.user.email}) can then do everything you
						can, including changing or removing other owners. Only an owner can take the role back.
					</p>
				)}
			</ConfirmDialog>
		</>
	);
}

function InviteForm(props: { canInviteOwner: boolean; onInvited: (user: Invited) => void | Promise<void> }) {
	const [form, setForm] = useState({ name: "", email: "", role: "member" as Role });
	const invite = useAction(async () => {
		const user = await unwrap(api.POST("/api/v1/users", { body: form }));
		setForm({ name: "", email: "", role: "member" });
		await props.onInvited(user);
	});
	return (
		<form
			class="card"
			aria-label="Invite a user"
			onSubmit={(e) => {
				e.preventDefault();
				void invite.run();
			}}
		>
			<div class="row">
				<Field
					label="Name"
					required
					maxLength={200}
					value={form.name}
					onInput={(e) => setForm({ ...form, name: e.currentTarget.value })}
				/>
				<Field
					label="Email"
					type="email"
					required
					value={form.email}
					onInput={(e) => setForm({ ...form, email: e.currentTarget.value })}
				/>
				<SelectField
					label="Role"
					value={form.role}
					options={ROLES.filter((r) => r !== "owner" || props.canInviteOwner).map((r) => [r, ROLE_LABELS[r]])}
					onChange={(e) => setForm({ ...form, role: e.currentTarget.value as Role })}
				/>
				<button type="submit" class="primary" aria-disabled={invite.busy}>
					Invite user
				</button>
			</div>
			<ErrorNotice problem={invite.error} />
		</form>
	);
}
