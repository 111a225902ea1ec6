"""Fields of Falco's official plugins, by the event source each plugin provides.

Falco loads a rules file for a plugin source (``source: aws_cloudtrail``) when that
plugin is loaded, and validates its conditions against the plugin's fields. ruleopt
cannot read plugin events (libsinsp 2022 in this project reads syscall captures only),
but it can load and check such rulesets as Falco does, so it knows the field names,
types and argument shapes. They were read from each plugin's field table in
falcosecurity/plugins (commit 0b3cbd8d, 2026-08-04) and are written here in
``fields.py``'s registry format: ``name TYPE [arg_kind] [multi=list]``.

- ``string`` is CHARBUF, ``uint64`` UINT64, ``string(list)`` a CHARBUF with
  ``multi=list``; argument ``Index`` is ``index_or_none``, ``Index,Required`` ``index``,
  ``Key,Required`` ``key``.
- ``k8s_audit`` lists only what the k8saudit plugin adds to the fields Falco 0.26's
  built-in k8s audit support already had (``fields._K8S_AUDIT_TABLE``).
- The json plugin's fields (``JSON_FIELDS``) extract from events of every plugin source.
"""

from __future__ import annotations

# event source -> the plugin that provides it (for messages)
PLUGIN_OF_SOURCE: dict[str, str] = {
    "aws_cloudtrail": "cloudtrail",
    "okta": "okta",
    "github": "github",
    "gcp_auditlog": "gcpaudit",
    "k8s_audit": "k8saudit",
}

# libsinsp's generic event fields (sinsp_filter_check_gen_event) that the 2022 registry
# has: they extract from the events of every source, plugin ones included.
GENERIC_EVENT_FIELDS: tuple[str, ...] = (
    "evt.num",
    "evt.time",
    "evt.time.s",
    "evt.time.iso8601",
    "evt.datetime",
    "evt.datetime.s",
    "evt.rawtime",
    "evt.rawtime.s",
    "evt.rawtime.ns",
    "evt.reltime",
    "evt.reltime.s",
    "evt.reltime.ns",
    "evt.pluginname",
    "evt.plugininfo",
)

JSON_FIELDS = """
json.value CHARBUF key
json.obj CHARBUF
json.rawtime CHARBUF
jevt.value CHARBUF key
jevt.obj CHARBUF
"""

# event source -> its plugin's fields
SOURCE_FIELDS: dict[str, str] = {
    "aws_cloudtrail": """
ct.id CHARBUF
ct.error CHARBUF
ct.errormessage CHARBUF
ct.time CHARBUF
ct.src CHARBUF
ct.shortsrc CHARBUF
ct.name CHARBUF
ct.user CHARBUF
ct.originaluser CHARBUF
ct.user.accountid CHARBUF
ct.user.identitytype CHARBUF
ct.user.principalid CHARBUF
ct.user.arn CHARBUF
ct.region CHARBUF
ct.response.subnetid CHARBUF
ct.response.reservationid CHARBUF
ct.response CHARBUF
ct.request.availabilityzone CHARBUF
ct.request.cluster CHARBUF
ct.request.functionname CHARBUF
ct.request.groupname CHARBUF
ct.request.host CHARBUF
ct.request.name CHARBUF
ct.request.policy CHARBUF
ct.request.reason CHARBUF
ct.request.target CHARBUF
ct.request.documentname CHARBUF
ct.request.serialnumber CHARBUF
ct.request.servicename CHARBUF
ct.request.subnetid CHARBUF
ct.request.taskdefinition CHARBUF
ct.request.username CHARBUF
ct.request CHARBUF
ct.srcip CHARBUF
ct.useragent CHARBUF
ct.info CHARBUF
ct.managementevent CHARBUF
ct.readonly CHARBUF
ct.requestid CHARBUF
ct.eventtype CHARBUF
ct.apiversion CHARBUF
ct.resources CHARBUF
ct.recipientaccountid CHARBUF
ct.serviceeventdetails CHARBUF
ct.sharedeventid CHARBUF
ct.vpcendpointid CHARBUF
ct.eventcategory CHARBUF
ct.addendum.reason CHARBUF
ct.addendum.updatedfields CHARBUF
ct.addendum.originalrequestid CHARBUF
ct.addendum.originaleventid CHARBUF
ct.sessioncredentialfromconsole CHARBUF
ct.edgedevicedetails CHARBUF
ct.tlsdetails.tlsversion CHARBUF
ct.tlsdetails.ciphersuite CHARBUF
ct.tlsdetails.clientprovidedhostheader CHARBUF
ct.additionaleventdata CHARBUF
s3.uri CHARBUF
s3.bucket CHARBUF
s3.key CHARBUF
s3.bytes UINT64
s3.bytes.in UINT64
s3.bytes.out UINT64
s3.cnt.get UINT64
s3.cnt.put UINT64
s3.cnt.other UINT64
ec2.name CHARBUF
ec2.imageid CHARBUF
ec2.imageids CHARBUF index_or_none multi=list
ecr.repository CHARBUF
ecr.imagetag CHARBUF
iam.role CHARBUF
iam.policy CHARBUF
""",
    "okta": """
okta.app CHARBUF
okta.behaviors CHARBUF
okta.org CHARBUF
okta.evt.type CHARBUF
okta.evt.legacytype CHARBUF
okta.severity CHARBUF
okta.message CHARBUF
okta.published CHARBUF
okta.logonlysecuritydata CHARBUF
okta.actor.id CHARBUF
okta.actor.Type CHARBUF
okta.actor.alternateid CHARBUF
okta.actor.name CHARBUF
okta.client.zone CHARBUF
okta.client.ip CHARBUF
okta.client.device CHARBUF
okta.client.id CHARBUF
okta.client.geo.city CHARBUF
okta.client.geo.state CHARBUF
okta.client.geo.country CHARBUF
okta.client.geo.postalcode CHARBUF
okta.client.geo.lat CHARBUF
okta.client.geo.lon CHARBUF
okta.useragent.os CHARBUF
okta.useragent.browser CHARBUF
okta.useragent.raw CHARBUF
okta.result CHARBUF
okta.reason CHARBUF
okta.transaction.id CHARBUF
okta.transaction.type CHARBUF
okta.requesturi CHARBUF
okta.principal.id CHARBUF
okta.principal.alternateid CHARBUF
okta.principal.type CHARBUF
okta.principal.name CHARBUF
okta.authentication.step CHARBUF
okta.authentication.sessionid CHARBUF
okta.authentication.provider CHARBUF
okta.authentication.credentialprovider CHARBUF
okta.security.asnumber UINT64
okta.security.asorg CHARBUF
okta.security.isp CHARBUF
okta.security.domain CHARBUF
okta.security.isproxy CHARBUF
okta.target.user.id CHARBUF
okta.target.user.alternateid CHARBUF
okta.target.user.name CHARBUF
okta.target.group.id CHARBUF
okta.target.group.alternateid CHARBUF
okta.target.group.name CHARBUF
okta.target.app.alternateid CHARBUF
okta.targets.displayName CHARBUF index_or_none
okta.mfa.failure.countlast UINT64 index
okta.mfa.deny.countlast UINT64 index
""",
    "github": """
github.type CHARBUF
github.action CHARBUF
github.user CHARBUF
github.repo CHARBUF
github.repo.url CHARBUF
github.repo.name CHARBUF
github.repo.description CHARBUF
github.org CHARBUF
github.owner CHARBUF
github.repo.public CHARBUF
github.collaborator.name CHARBUF
github.collaborator.role CHARBUF
github.webhook.id CHARBUF
github.webhook.type CHARBUF
github.commit.added CHARBUF
github.commit.modified CHARBUF
github.commit.removed CHARBUF
github.diff.has_secrets CHARBUF
github.diff.committed_secrets.desc CHARBUF
github.diff.committed_secrets.files CHARBUF
github.diff.committed_secrets.lines CHARBUF
github.diff.committed_secrets.links CHARBUF
github.workflow.has_miners CHARBUF
github.workflow.miners.type CHARBUF
github.workflow.filename CHARBUF
""",
    "gcp_auditlog": """
gcp.user CHARBUF
gcp.callerIP CHARBUF
gcp.userAgent CHARBUF
gcp.authorizationInfo CHARBUF
gcp.serviceName CHARBUF
gcp.policyDelta CHARBUF
gcp.request CHARBUF
gcp.methodName CHARBUF
gcp.cloudfunctions.function CHARBUF
gcp.cloudsql.databaseId CHARBUF
gcp.compute.instanceId CHARBUF
gcp.compute.networkId CHARBUF
gcp.compute.subnetwork CHARBUF
gcp.compute.subnetworkId CHARBUF
gcp.dns.zone CHARBUF
gcp.iam.serviceAccount CHARBUF
gcp.iam.serviceAccountId CHARBUF
gcp.location CHARBUF
gcp.logging.sink CHARBUF
gcp.projectId CHARBUF
gcp.resourceName CHARBUF
gcp.resourceType CHARBUF
gcp.resourceLabels CHARBUF
gcp.storage.bucket CHARBUF
gcp.time CHARBUF
""",
    "k8s_audit": """
ka.auth.openshift.decision CHARBUF
ka.validations.admission.policy.failure CHARBUF
ka.security.pod.violations CHARBUF
ka.auth.openshift.username CHARBUF
ka.target.pod.name CHARBUF
ka.req.binding.subjects.user_names CHARBUF multi=list
ka.req.binding.subjects.serviceaccount_names CHARBUF multi=list
ka.req.binding.subjects.serviceaccount_ns_names CHARBUF multi=list
ka.req.binding.subjects.group_names CHARBUF multi=list
ka.req.pod.containers.args CHARBUF index_or_none multi=list
ka.req.pod.containers.command CHARBUF index_or_none multi=list
ka.req.pod.containers.name CHARBUF index_or_none multi=list
ka.sourceips CHARBUF index_or_none multi=list
ka.cluster.name CHARBUF
ka.req.pod.initContainers.name CHARBUF index_or_none multi=list
ka.req.pod.initContainers.image CHARBUF index_or_none multi=list
ka.req.pod.initContainers.image.repository CHARBUF index_or_none multi=list
ka.req.pod.initContainers.command CHARBUF index_or_none multi=list
ka.req.pod.initContainers.args CHARBUF index_or_none multi=list
ka.req.pod.initContainers.privileged CHARBUF index_or_none multi=list
ka.req.pod.initContainers.allow_privilege_escalation CHARBUF index_or_none multi=list
ka.req.pod.initContainers.read_only_fs CHARBUF index_or_none multi=list
ka.req.pod.initContainers.run_as_user CHARBUF index_or_none multi=list
ka.req.pod.initContainers.eff_run_as_user CHARBUF index_or_none multi=list
ka.req.pod.initContainers.run_as_group CHARBUF index_or_none multi=list
ka.req.pod.initContainers.eff_run_as_group CHARBUF index_or_none multi=list
ka.req.pod.initContainers.proc_mount CHARBUF index_or_none multi=list
ka.req.pod.initContainers.add_capabilities CHARBUF index_or_none multi=list
ka.req.pod.initContainers.host_port CHARBUF index_or_none multi=list
ka.req.pod.ephemeralContainers.name CHARBUF index_or_none multi=list
ka.req.pod.ephemeralContainers.image CHARBUF index_or_none multi=list
ka.req.pod.ephemeralContainers.image.repository CHARBUF index_or_none multi=list
ka.req.pod.ephemeralContainers.command CHARBUF index_or_none multi=list
ka.req.pod.ephemeralContainers.args CHARBUF index_or_none multi=list
ka.req.pod.ephemeralContainers.privileged CHARBUF index_or_none multi=list
ka.req.pod.ephemeralContainers.allow_privilege_escalation CHARBUF index_or_none multi=list
ka.req.pod.ephemeralContainers.read_only_fs CHARBUF index_or_none multi=list
ka.req.pod.ephemeralContainers.run_as_user CHARBUF index_or_none multi=list
ka.req.pod.ephemeralContainers.eff_run_as_user CHARBUF index_or_none multi=list
ka.req.pod.ephemeralContainers.run_as_group CHARBUF index_or_none multi=list
ka.req.pod.ephemeralContainers.eff_run_as_group CHARBUF index_or_none multi=list
ka.req.pod.ephemeralContainers.proc_mount CHARBUF index_or_none multi=list
ka.req.pod.ephemeralContainers.add_capabilities CHARBUF index_or_none multi=list
""",
}
