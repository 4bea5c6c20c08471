import { useEffect, useState } from "preact/hooks";
import { useLocation } from "preact-iso";
import { api, unwrap } from "../api/client";
import { acceptToken } from "../api/session";
import { ErrorNotice, Field } from "../components/ui";
import { useAction, useResource } from "../components/use-resource";
import { AuthLayout } from "./auth-layout";

/** First run: the organization and its owner, then signed in as them. Shown only while no user exists. */
export function SetupPage() {
	const { route } = useLocation();
	const state = useResource(() => unwrap(api.GET("/api/v1/setup")), []);
	const [form, setForm] = useState({ org_name: "", name: "", email: "", password: "", token: "" });
	const set = (key: keyof typeof form) => (e: Event) =>
		setForm({ ...form, [key]: (e.currentTarget as HTMLInputElement).value });
	useEffect(() => {
		if (state.data && !state.data.setup_required) route("/sign-in", true);
	}, [state.data]);
	const submit = useAction(async () => {
		await unwrap(
			api.POST("/api/v1/setup", {
				body: { org_name: form.org_name, name: form.name, email: form.email, password: form.password },
				params: { header: form.token ? { "x-setup-token": form.token } : {} },
			}),
		);
		acceptToken(
			await unwrap(api.POST("/api/v1/auth/login", { body: { email: form.email, password: form.password } })),
		);
		route("/", true);
	});
	return (
		<AuthLayout title="Set up Hexcovery">
			<p class="subtitle">
				Create your organization and its first owner. This page works once, while no user exists.
			</p>
			<ErrorNotice problem={submit.error ?? state.error} />
			<form
				class="stack"
				onSubmit={(e) => {
					e.preventDefault();
					void submit.run();
				}}
			>
				<Field
					label="Organization name"
					required
					maxLength={200}
					value={form.org_name}
					onInput={set("org_name")}
					autoComplete="organization"
				/>
				<Field
					label="Your name"
					required
					maxLength={200}
					value={form.name}
					onInput={set("name")}
					autoComplete="name"
				/>
				<Field
					label="Email"
					type="email"
					required
					value={form.email}
					onInput={set("email")}
					autoComplete="email"
				/>
				<Field
					label="Password"
					type="password"
					required
					minLength={12}
					value={form.password}
					onInput={set("password")}
					autoComplete="new-password"
					hint="At least 12 characters; common passwords are refused."
				/>
				{state.data?.setup_token_required ? (
					<Field
						label="Setup token"
						type="password"
						required
						value={form.token}
						onInput={set("token")}
						hint="The SETUP_TOKEN this server was started with."
					/>
				) : null}
				<button type="submit" class="primary" disabled={submit.busy}>
					{submit.busy ? "Setting up…" : "Create organization"}
				</button>
			</form>
		</AuthLayout>
	);
}
