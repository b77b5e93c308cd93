#!/usr/bin/env bash
# azd postprovision hook (azure.yaml), also run by hand: checks that the broker's identity holds
# every Microsoft Graph application permission of infra/graphPermissions.json, and names what is
# missing and how to grant it. Needs the Azure CLI signed in to the broker's tenant, and node.
set -euo pipefail
cd "$(dirname "$0")/.."

principal="${BROKER_PRINCIPAL_ID:-}"
if [ -z "$principal" ]; then
  echo "check-graph-permissions: BROKER_PRINCIPAL_ID is not set (azd sets it from the deployment's outputs)" >&2
  exit 2
fi
graph_app_id=00000003-0000-0000-c000-000000000000
graph_id=$(az ad sp show --id "$graph_app_id" --query id -o tsv)
held=$(az rest --method GET \
  --url "https://graph.microsoft.com/v1.0/servicePrincipals/$principal/appRoleAssignments" \
  --query "value[?resourceId=='$graph_id'].appRoleId" -o tsv)
roles=$(az ad sp show --id "$graph_app_id" --query "appRoles[].[value,id]" -o tsv)

missing=()
for name in $(node -e "for (const p of require('./infra/graphPermissions.json').permissions) console.log(p.name)"); do
  id=$(printf '%s\n' "$roles" | awk -v name="$name" '$1 == name { print $2 }')
  if [ -z "$id" ] || ! printf '%s\n' "$held" | grep -qx "$id"; then missing+=("$name"); fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "check-graph-permissions: the broker ($principal) holds every Graph permission it needs"
  exit 0
fi
echo "check-graph-permissions: the broker ($principal) lacks these Microsoft Graph application permissions:" >&2
for name in "${missing[@]}"; do echo "  - $name" >&2; done
cat >&2 <<HELP
Provisioning and teardown of Entra objects will fail until they are granted. Grant them by running
\`azd provision\` as a user who holds AppRoleAssignment.ReadWrite.All and Application.Read.All (for
example a Privileged Role Administrator), or per permission:
  az rest --method POST --url https://graph.microsoft.com/v1.0/servicePrincipals/$principal/appRoleAssignments \\
    --body '{"principalId":"$principal","resourceId":"$graph_id","appRoleId":"<id of the permission>"}'
HELP
exit 1
