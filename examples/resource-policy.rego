# Trustee's default resource policy: any TEE but the sample one gets resources.
package policy

default allow = false

plugin = data.plugin

allow if {
    plugin == "resource"
    not input["submods"]["cpu0"]["ear.veraison.annotated-evidence"]["sample"]
}
