# A kata agent policy (what genpolicy writes, cut to the bone): allow every agent request.
package agent_policy

default AllowRequestsFailingPolicy := true
