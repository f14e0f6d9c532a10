"""Drives the graph-emulator with Microsoft's own Python SDK (azure-identity + msgraph-sdk).

Run by tests/emulator/external.rs, which starts the emulator with --tls and passes:
  B2B_EMU_ROOT (https://127.0.0.1:PORT), B2B_EMU_TENANT, B2B_EMU_CLIENT_ID,
  B2B_EMU_CLIENT_SECRET, B2B_EMU_USER (convertible user id), B2B_EMU_SYNCED_USER,
  B2B_EMU_OBRIEN_MAIL (a mail with a single quote), B2B_EMU_NEW_MAIL;
and SSL_CERT_FILE / REQUESTS_CA_BUNDLE pointing at the emulator's ca.pem.
Prints one JSON object with what it saw; the Rust test asserts on it.
"""

import asyncio
import json
import os
import sys

from azure.identity.aio import ClientSecretCredential
from kiota_abstractions.base_request_configuration import RequestConfiguration
from kiota_authentication_azure.azure_identity_authentication_provider import (
    AzureIdentityAuthenticationProvider,
)
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph.generated.models.invitation import Invitation
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.user import User
from msgraph.generated.users.users_request_builder import UsersRequestBuilder


async def main() -> dict:
    env = os.environ
    root = env["B2B_EMU_ROOT"].rstrip("/")
    host = root.split("://", 1)[1].split("/", 1)[0].split(":", 1)[0]
    credential = ClientSecretCredential(
        env["B2B_EMU_TENANT"],
        env["B2B_EMU_CLIENT_ID"],
        env["B2B_EMU_CLIENT_SECRET"],
        authority=root,
        disable_instance_discovery=True,
    )
    seen: dict = {}
    try:
        token = await credential.get_token("https://graph.microsoft.com/.default")
        seen["token_expires_on"] = token.expires_on

        auth = AzureIdentityAuthenticationProvider(
            credential,
            scopes=["https://graph.microsoft.com/.default"],
            allowed_hosts=[host],
        )
        adapter = GraphRequestAdapter(auth)
        adapter.base_url = f"{root}/v1.0"
        client = GraphServiceClient(request_adapter=adapter)

        user = await client.users.by_user_id(env["B2B_EMU_USER"]).get()
        seen["user_upn"] = user.user_principal_name

        mail = env["B2B_EMU_OBRIEN_MAIL"]
        escaped = mail.replace("'", "''")
        query = UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(
            filter=f"mail eq '{escaped}'", select=["id", "mail"]
        )
        found = await client.users.get(
            request_configuration=RequestConfiguration(query_parameters=query)
        )
        seen["filter_mails"] = [u.mail for u in (found.value or [])]

        await client.users.by_user_id(env["B2B_EMU_USER"]).patch(
            User(mail=env["B2B_EMU_NEW_MAIL"])
        )
        after = await client.users.by_user_id(env["B2B_EMU_USER"]).get()
        seen["mail_after_patch"] = after.mail

        invitation = await client.invitations.post(
            Invitation(
                invited_user_email_address=env["B2B_EMU_NEW_MAIL"],
                invite_redirect_url="https://myapps.microsoft.com",
                send_invitation_message=False,
                invited_user=User(id=env["B2B_EMU_USER"]),
            )
        )
        seen["invitation_status"] = invitation.status
        seen["invite_redeem_url"] = invitation.invite_redeem_url
        seen["invited_user_id"] = invitation.invited_user.id if invitation.invited_user else None

        try:
            await client.users.by_user_id(env["B2B_EMU_SYNCED_USER"]).patch(
                User(mail="isaiah@northwind.com")
            )
            seen["synced_patch"] = "accepted"
        except ODataError as e:
            seen["synced_patch"] = {
                "status": e.response_status_code,
                "code": e.error.code if e.error else None,
            }
    finally:
        await credential.close()
    return seen


if __name__ == "__main__":
    try:
        print(json.dumps(asyncio.run(main())))
    except Exception as e:  # noqa: BLE001 - report anything to the Rust test
        print(json.dumps({"exception": f"{type(e).__name__}: {e}"}))
        sys.exit(1)
