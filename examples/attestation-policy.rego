# An appraisal policy for `cococtl kbs set-attestation-policy --id default_cpu` (sample TEE): the EAR status is
# "affirming" once the KBS holds the reference value the evidence's svn must match
# (`cococtl kbs set-reference-value svn 1`), and "contraindicated" before.
package policy

import rego.v1

default executables := 33

default hardware := 97

default configuration := 36

executables := 2 if input.sample.svn in query_reference_value("svn")

hardware := 2 if input.sample.svn in query_reference_value("svn")

configuration := 2 if input.sample.debug == false

trust_claims := {"executables": executables, "hardware": hardware, "configuration": configuration}
