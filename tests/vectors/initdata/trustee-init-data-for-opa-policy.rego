
package policy
import rego.v1

default allow = false

allow if {
    input["submods"]["cpu0"]["ear.veraison.annotated-evidence"]["init_data_claims"]["agent_policy_claims"]["containers"][1]["OCI"]["Process"]["Args"][0] = "/opt/bitnami/scripts/nginx/entrypoint.sh"
}
