import { useLayoutEffect, useMemo, useState } from "preact/hooks";
import { api, unwrap } from "../../api/client";
import { acceptToken, currentUser, signOut } from "../../api/session";
import { ROLE_LABELS } from "../../auth/roles";
import { QrCode } from "../../components/qr-code";
import { CopyButton, ErrorNotice, Field, Notice, PageHeader, SecretField } from "../../components/ui";
import { useAction } from "../../components/use-resource";

export function AccountPage() {
	const user = currentUser.value;
	if (!user) return null;
	return (
		<>
			<PageHeader title="My account" subtitle={`${user.email} · ${ROLE_LABELS[user.role]}`} />
			<div class="grid-2 forms">
				<ProfileCard />
				<PasswordCard />
			</div>
			<TwoFactorCard />
		</>
	);
}

async function reloadMe(): Promise<void> {
	currentUser.value = await unwrap(api.GET("/api/v1/me"));
}

function ProfileCard() {
	const [name, setName] = useState(currentUser.value?.name ?? "");
	const [saved, setSaved] = useState(false);
	const save = useAction(async () => {
		currentUser.value = await unwrap(api.PATCH("/api/v1/me", { body: { name } }));
		setSaved(true);
	});
	return (
		<section class="card" aria-labelledby="profile-title">
			<h2 id="profile-title">Profile</h2>
			<form
				class="stack"
				onSubmit={(e) => {
					e.preventDefault();
					setSaved(false);
					void save.run();
				}}
			>
				<Field
					label="Name"
					required
					maxLength={200}
					value={name}
					onInput={(e) => setName(e.currentTarget.value)}
				/>
				<ErrorNotice problem={save.error} />
				{saved ? <Notice kind="success">Saved.</Notice> : null}
				<div>
					<button type="submit" aria-disabled={save.busy}>
						Save name
					</button>
				</div>
			</form>
		</section>
	);
}

function PasswordForm({ onDone, submitLabel }: { onDone: () => void; submitLabel: string }) {
	const [current, setCurrent] = useState("");
	const [next, setNext] = useState("");
	const [confirm, setConfirm] = useState("");
	const mismatch = confirm.length > 0 && confirm !== next;
	const change = useAction(async () => {
		acceptToken(
			await unwrap(
				api.POST("/api/v1/me/password", { body: { current_password: current, new_password: next } }),
			),
		);
		setCurrent("");
		setNext("");
		setConfirm("");
		onDone();
	});
	return (
		<form
			class="stack"
			onSubmit={(e) => {
				e.preventDefault();
				if (!mismatch) void change.run();
			}}
		>
			<Field
				label="Current password"
				type="password"
				required
				autoComplete="current-password"
				value={current}
				onInput={(e) => setCurrent(e.currentTarget.value)}
			/>
			<Field
				label="New password"
				type="password"
				required
				minLength={12}
				autoComplete="new-password"
				value={next}
				onInput={(e) => setNext(e.currentTarget.value)}
				hint="At least 12 characters; common passwords are refused."
			/>
			<Field
				label="Confirm new password"
				type="password"
				required
				autoComplete="new-password"
				value={confirm}
				onInput={(e) => setConfirm(e.currentTarget.value)}
				error={mismatch ? "The two passwords differ." : null}
			/>
			<ErrorNotice problem={change.error} />
			<div>
				<button type="submit" class="primary" disabled={mismatch} aria-disabled={change.busy}>
					{submitLabel}
				</button>
			</div>
		</form>
	);
}

function PasswordCard() {
	const [done, setDone] = useState(false);
	return (
		<section class="card" aria-labelledby="password-title">
			<h2 id="password-title">Your password</h2>
			{done ? <Notice kind="success">Password changed. Your other sessions were signed out.</Notice> : null}
			<PasswordForm submitLabel="Change password" onDone={() => setDone(true)} />
		</section>
	);
}

/** Invited users sign in with a one-time password and must choose their own before anything else. */
export function ForcedPasswordChange() {
	return (
		<div class="auth-card">
			<h1>Choose your password</h1>
			<p class="subtitle">
				You signed in with a one-time password from an admin. Choose your own to continue.
			</p>
			<PasswordForm submitLabel="Set password and continue" onDone={() => undefined} />
			<p>
				<button type="button" class="link" onClick={() => void signOut()}>
					Sign out
				</button>
			</p>
		</div>
	);
}

function TwoFactorCard() {
	const user = currentUser.value;
	const [pending, setPending] = useState<{ secret: string; otpauth_uri: string } | null>(null);
	const [code, setCode] = useState("");
	const [recoveryCodes, setRecoveryCodes] = useState<string[] | null>(null);
	const [password, setPassword] = useState("");
	const [disableCode, setDisableCode] = useState("");
	const [disabled, setDisabled] = useState(false);
	const start = useAction(async () => {
		setPending(await unwrap(api.POST("/api/v1/auth/totp/setup")));
		setRecoveryCodes(null);
		setDisabled(false);
	});
	const enable = useAction(async () => {
		const answer = await unwrap(
			api.POST("/api/v1/auth/totp/enable", { body: { password, code: code.trim() } }),
		);
		setRecoveryCodes(answer.recovery_codes);
		setPending(null);
		setCode("");
		setPassword("");
		await reloadMe();
	});
	const disable = useAction(async () => {
		await unwrap(api.POST("/api/v1/auth/totp/disable", { body: { password, code: disableCode.trim() } }));
		setPassword("");
		setDisableCode("");
		setDisabled(true);
		await reloadMe();
	});
	if (!user) return null;
	return (
		<section class="card" aria-labelledby="tfa-title">
			<h2 id="tfa-title">Two-factor authentication</h2>
			{recoveryCodes ? (
				<div>
					<Notice kind="success">Two-factor authentication is on.</Notice>
					<h3>Recovery codes</h3>
					<Notice kind="warn">
						Save these codes now: they are <strong>shown only this once</strong>. Each signs you in once if
						you lose your authenticator.
					</Notice>
					<ol class="codes" aria-label="Recovery codes">
						{recoveryCodes.map((c) => (
							<li key={c}>{c}</li>
						))}
					</ol>
					<div class="row">
						<CopyButton text={recoveryCodes.join("\n")} label="Copy codes" />
						<DownloadLink
							text={`${recoveryCodes.join("\n")}\n`}
							name="hexcovery-recovery-codes.txt"
							label="Download codes"
						/>
						<button type="button" class="small" onClick={() => setRecoveryCodes(null)}>
							I saved them
						</button>
					</div>
				</div>
			) : user.totp_enabled ? (
				<form
					class="stack"
					onSubmit={(e) => {
						e.preventDefault();
						void disable.run();
					}}
				>
					<p>
						<strong>On.</strong> Signing in asks for a code from your authenticator app.
					</p>
					<div class="row">
						<Field
							label="Password"
							type="password"
							required
							autoComplete="current-password"
							value={password}
							onInput={(e) => setPassword(e.currentTarget.value)}
						/>
						<Field
							label="Authentication or recovery code"
							required
							autoComplete="one-time-code"
							value={disableCode}
							onInput={(e) => setDisableCode(e.currentTarget.value)}
						/>
						<button type="submit" class="danger" aria-disabled={disable.busy}>
							Turn off two-factor authentication
						</button>
					</div>
					<ErrorNotice problem={disable.error} />
				</form>
			) : pending ? (
				<form
					class="stack"
					onSubmit={(e) => {
						e.preventDefault();
						void enable.run();
					}}
				>
					<p>
						Scan this code with an authenticator app (1Password, Google Authenticator, Aegis…), then enter
						your password and the code it shows.
					</p>
					<div class="row">
						<QrCode text={pending.otpauth_uri} label="QR code for your authenticator app" />
						<div class="stack">
							<div class="secret-box">
								<SecretField label="Or enter this secret by hand" value={pending.secret} />
							</div>
						</div>
					</div>
					<div class="row">
						<Field
							label="Password"
							type="password"
							required
							autoComplete="current-password"
							value={password}
							onInput={(e) => setPassword(e.currentTarget.value)}
						/>
						<Field
							label="Authentication code"
							required
							inputMode="numeric"
							autoComplete="one-time-code"
							value={code}
							onInput={(e) => setCode(e.currentTarget.value)}
						/>
						<button type="submit" class="primary" aria-disabled={enable.busy}>
							Turn on
						</button>
						<button
							type="button"
							onClick={() => {
								setPending(null);
								setPassword("");
							}}
						>
							Cancel
						</button>
					</div>
					<ErrorNotice problem={enable.error} />
				</form>
			) : (
				<div class="stack">
					{disabled ? <Notice kind="info">Two-factor authentication is off.</Notice> : null}
					<p>
						<strong>Off.</strong> Add a second step to signing in: a code from an app on your phone.
					</p>
					<div>
						<button type="button" class="primary" aria-disabled={start.busy} onClick={() => void start.run()}>
							Set up two-factor authentication
						</button>
					</div>
					<ErrorNotice problem={start.error} />
				</div>
			)}
		</section>
	);
}

/**
 * A link that saves `text` as a file: one object URL while it is shown, released when it goes
 * (one made in each render was never released).
 */
function DownloadLink({ text, name, label }: { text: string; name: string; label: string }) {
	const href = useMemo(() => URL.createObjectURL(new Blob([text], { type: "text/plain" })), [text]);
	// A layout effect: it runs with the render, so its release is sure to run when the link goes (a
	// plain effect waits for a frame, which a background tab may not paint before the codes go).
	useLayoutEffect(() => () => URL.revokeObjectURL(href), [href]);
	return (
		<a class="button small" download={name} href={href}>
			{label}
		</a>
	);
}
