import { useEffect, useRef, useState } from "preact/hooks";
import { useLocation } from "preact-iso";
import { type ApiProblem, api, unwrap } from "../api/client";
import { acceptToken, currentUser, sessionEndedHere } from "../api/session";
import { ErrorNotice, Field } from "../components/ui";
import { useAction } from "../components/use-resource";
import { AuthLayout, safeNext } from "./auth-layout";

/**
 * Email and password; when the API answers `totp_required`, a second step asks for the
 * authentication code (or a recovery code). `too_many_attempts` is shown as a countdown. One address
 * may have accounts in several organizations: "Sign in to a specific organization" opens an
 * Organization ID field (prefilled, and open, from `?org=`); left empty, the API signs in to the
 * address's oldest account.
 */
export function SignInPage() {
	const { query, route } = useLocation();
	const next = safeNext(query.next);
	const [email, setEmail] = useState("");
	const [password, setPassword] = useState("");
	const [org, setOrg] = useState(typeof query.org === "string" ? query.org.trim().slice(0, 64) : "");
	const [step, setStep] = useState<"password" | "code">("password");
	const [useRecovery, setUseRecovery] = useState(false);
	const [code, setCode] = useState("");
	const [waitUntil, setWaitUntil] = useState(0);
	const [, tick] = useState(0);
	const codeInput = useRef<HTMLInputElement>(null);
	const emailInput = useRef<HTMLInputElement>(null);

	useEffect(() => {
		if (currentUser.value) route(next, true);
	}, []);
	const remaining = Math.max(0, Math.ceil((waitUntil - Date.now()) / 1000));
	useEffect(() => {
		if (remaining <= 0) return;
		const timer = setInterval(() => tick((n) => n + 1), 250);
		return () => clearInterval(timer);
	}, [remaining > 0]);
	// The first field to fill has the focus: the email (a first Tab was needed), then the code.
	useEffect(() => (step === "code" ? codeInput : emailInput).current?.focus(), [step, useRecovery]);

	const submit = useAction(async () => {
		const chosenOrg = org.trim();
		const credentials = { email, password, ...(chosenOrg ? { org: chosenOrg } : {}) };
		const body =
			step === "code"
				? { ...credentials, ...(useRecovery ? { recovery_code: code.trim() } : { totp_code: code.trim() }) }
				: credentials;
		try {
			acceptToken(await unwrap(api.POST("/api/v1/auth/login", { body })));
			route(next, true);
		} catch (error) {
			const problem = error as ApiProblem;
			if (problem.code === "totp_required") {
				setStep("code");
				return;
			}
			if (problem.code === "too_many_attempts" && problem.retryAfterS) {
				setWaitUntil(Date.now() + problem.retryAfterS * 1000);
			}
			throw error;
		}
	});
	const problem = submit.error?.code === "too_many_attempts" ? null : submit.error;

	return (
		<AuthLayout title={step === "password" ? "Sign in" : "Two-factor authentication"}>
			{step === "password" && query.next && sessionEndedHere() ? (
				<p class="subtitle">Your session has ended. Sign in to go back where you were.</p>
			) : step === "password" && query.next && query.next !== "/" ? (
				<p class="subtitle">Sign in to open the page you asked for.</p>
			) : null}
			<ErrorNotice problem={problem} />
			{remaining > 0 ? (
				<div class="notice warn" role="alert">
					<strong>Too many failed attempts.</strong> Try again in <span aria-live="polite">{remaining}</span>{" "}
					s.
				</div>
			) : null}
			<form
				class="stack"
				onSubmit={(e) => {
					e.preventDefault();
					void submit.run();
				}}
			>
				{step === "password" ? (
					<>
						<Field
							label="Email"
							inputRef={emailInput}
							type="email"
							required
							autoComplete="username"
							value={email}
							onInput={(e) => setEmail(e.currentTarget.value)}
						/>
						<Field
							label="Password"
							type="password"
							required
							autoComplete="current-password"
							value={password}
							onInput={(e) => setPassword(e.currentTarget.value)}
						/>
						<details class="org-choice" open={org !== ""}>
							<summary>Sign in to a specific organization</summary>
							<Field
								label="Organization ID"
								autoComplete="off"
								spellcheck={false}
								maxLength={64}
								placeholder="org_…"
								hint="Only when your email has accounts in several organizations. Empty: your first account."
								value={org}
								onInput={(e) => setOrg(e.currentTarget.value)}
							/>
						</details>
					</>
				) : (
					<>
						<p>
							{useRecovery
								? "Enter one of the recovery codes you saved when you turned on two-factor authentication. Each works once."
								: "Enter the 6-digit code from your authenticator app."}
						</p>
						<Field
							inputRef={codeInput}
							key={useRecovery ? "recovery" : "totp"}
							label={useRecovery ? "Recovery code" : "Authentication code"}
							required
							autoComplete="one-time-code"
							inputMode={useRecovery ? "text" : "numeric"}
							maxLength={useRecovery ? 64 : 16}
							value={code}
							onInput={(e) => setCode(e.currentTarget.value)}
						/>
						<button
							type="button"
							class="link"
							onClick={() => {
								setUseRecovery(!useRecovery);
								setCode("");
								submit.setError(null);
							}}
						>
							{useRecovery ? "Use an authentication code instead" : "Use a recovery code instead"}
						</button>
					</>
				)}
				<button type="submit" class="primary" disabled={submit.busy || remaining > 0}>
					{submit.busy ? "Signing in…" : step === "password" ? "Sign in" : "Verify"}
				</button>
				{step === "code" ? (
					<button
						type="button"
						class="link"
						onClick={() => {
							setStep("password");
							setCode("");
							submit.setError(null);
						}}
					>
						Back
					</button>
				) : null}
			</form>
		</AuthLayout>
	);
}
