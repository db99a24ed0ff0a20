import { useState } from "preact/hooks";
import { api, errorText, session } from "../api";
import { ErrorNote } from "../ui";

export function SignInPage() {
  const [token, setToken] = useState("");
  const [error, setError] = useState<string | null>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    session.set(token.trim());
    try {
      await api("GET", "/v1/config");
      location.hash = "#/groups";
    } catch (err) {
      session.clear();
      setError(errorText(err));
    }
  };
  return (
    <form onSubmit={submit} aria-labelledby="sign-in-title">
      <h1 id="sign-in-title">Sign in</h1>
      <p class="muted">
        Paste a token for your tenant (locally: the one <code>npm run token</code> prints). It is kept for this tab only.
      </p>
      <label for="token">Token</label>
      <textarea
        id="token"
        rows={5}
        value={token}
        onInput={(e) => setToken((e.target as HTMLTextAreaElement).value)}
        aria-describedby="sign-in-error"
        required
      />
      <ErrorNote error={error} id="sign-in-error" />
      <button type="submit">Sign in</button>
    </form>
  );
}
