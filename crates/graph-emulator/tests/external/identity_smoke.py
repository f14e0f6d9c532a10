"""Signs in to the graph-emulator the other ways, with Microsoft's azure-identity:
ManagedIdentityCredential over the App Service and IMDS protocols, ClientAssertionCredential
and WorkloadIdentityCredential with a token from the emulator's federation issuer.

Run by tests/emulator/external.rs, which starts the emulator with --tls and the managed
identity listener and passes: B2B_EMU_ROOT (https://127.0.0.1:PORT), B2B_EMU_TENANT,
B2B_EMU_FED_CLIENT_ID (an app trusting the federation issuer for B2B_EMU_FED_SUBJECT),
B2B_EMU_USER_MI (a user-assigned identity's client id), B2B_EMU_IDENTITY_ENDPOINT,
B2B_EMU_IDENTITY_HEADER, B2B_EMU_IMDS_HOST; SSL_CERT_FILE / REQUESTS_CA_BUNDLE point at the
emulator's ca.pem. Prints one JSON object: for each way in, the `appid` of its token and
the status of GET /v1.0/users with it. The Rust test asserts on it.
"""

import base64
import json
import os
import ssl
import sys
import tempfile
import urllib.request

from azure.identity import (
    ClientAssertionCredential,
    ManagedIdentityCredential,
    WorkloadIdentityCredential,
)

GRAPH = "https://graph.microsoft.com/.default"
IDENTITY_VARS = [
    "IDENTITY_ENDPOINT",
    "IDENTITY_HEADER",
    "AZURE_POD_IDENTITY_AUTHORITY_HOST",
    "MSI_ENDPOINT",
    "MSI_SECRET",
    "IMDS_ENDPOINT",
    "IDENTITY_SERVER_THUMBPRINT",
]


def appid(token: str) -> str:
    payload = token.split(".")[1]
    payload += "=" * (-len(payload) % 4)
    return json.loads(base64.urlsafe_b64decode(payload))["appid"]


def main() -> dict:
    env = os.environ
    root = env["B2B_EMU_ROOT"].rstrip("/")
    authority = root.split("://", 1)[1]
    tls = ssl.create_default_context(cafile=env["SSL_CERT_FILE"])

    def users_status(token: str) -> int:
        request = urllib.request.Request(
            f"{root}/v1.0/users?$top=1", headers={"Authorization": f"Bearer {token}"}
        )
        return urllib.request.urlopen(request, context=tls).status

    def federated_token() -> str:
        request = urllib.request.Request(
            f"{root}/_emulator/tokens/federated",
            data=json.dumps({"subject": env["B2B_EMU_FED_SUBJECT"]}).encode(),
            headers={"Content-Type": "application/json"},
        )
        return json.load(urllib.request.urlopen(request, context=tls))["token"]

    def use(name: str, credential) -> None:
        token = credential.get_token(GRAPH).token
        seen[name] = {"appid": appid(token), "users": users_status(token)}

    def identity_env(**values: str) -> None:
        for var in IDENTITY_VARS:
            os.environ.pop(var, None)
        os.environ.update(values)

    seen: dict = {}
    try:
        identity_env(
            IDENTITY_ENDPOINT=env["B2B_EMU_IDENTITY_ENDPOINT"],
            IDENTITY_HEADER=env["B2B_EMU_IDENTITY_HEADER"],
        )
        use("app_service_system", ManagedIdentityCredential())
        use("app_service_user", ManagedIdentityCredential(client_id=env["B2B_EMU_USER_MI"]))
        identity_env(AZURE_POD_IDENTITY_AUTHORITY_HOST=env["B2B_EMU_IMDS_HOST"])
        use("imds_system", ManagedIdentityCredential())
        use("imds_user", ManagedIdentityCredential(client_id=env["B2B_EMU_USER_MI"]))
        identity_env()

        use(
            "client_assertion",
            ClientAssertionCredential(
                env["B2B_EMU_TENANT"],
                env["B2B_EMU_FED_CLIENT_ID"],
                federated_token,
                authority=authority,
                disable_instance_discovery=True,
            ),
        )
        with tempfile.NamedTemporaryFile("w", suffix=".jwt", delete=False) as f:
            f.write(federated_token())
        use(
            "workload_identity",
            WorkloadIdentityCredential(
                tenant_id=env["B2B_EMU_TENANT"],
                client_id=env["B2B_EMU_FED_CLIENT_ID"],
                token_file_path=f.name,
                authority=authority,
                disable_instance_discovery=True,
            ),
        )
        os.unlink(f.name)
    except Exception as e:  # reported to the Rust test, which fails with it
        seen["exception"] = f"{type(e).__name__}: {e}"
    return seen


if __name__ == "__main__":
    print(json.dumps(main()))
    sys.stdout.flush()
