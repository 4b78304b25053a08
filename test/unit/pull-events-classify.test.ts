import t from 'tap';
import { classifyPullEvent, classifyWaitingState, MAX_CLASSIFIED_CHARS, PULL_EVENT_CAUSES, type PullEventCause } from '../../src/pull-events/classify.ts';
import { containerOfFieldPath, readEvent, readEvents } from '../../src/pull-events/normalize.ts';

/**
 * Real texts: kubelet event messages and containerd/dockershim errors as users posted them in
 * public issues (the source is named beside each), or as the kubelet's image_manager.go and
 * containerd's resolver format them. Each row: reason, message, expected cause.
 */
type Row = readonly [reason: string, message: string, cause: PullEventCause];

const rows: Record<string, Row> = {
  // --- unauthorized
  'a Harbor 401 on the manifest through containerd (kubernetes/kubernetes#110675)': [
    'Failed',
    'Failed to pull image "registry.app.xxx.net/XXXXX/partsgo42:GitActionsNew-2e7e78f": rpc error: code = Unknown desc = failed to pull and unpack image "registry.app.xxx.net/spm2fog/partsgo42:GitActionsNew-2e7e78f": failed to resolve reference "registry.app.xxx.net/spm2fog/partsgo42:GitActionsNew-2e7e78f": pulling from host registry.app.xxx.net failed with status code [manifests GitActionsNew-2e7e78f]: 401 Unauthorized',
    'unauthorized',
  ],
  'an anonymous token refused with 403 by ghcr.io, without the rpc prefix (nloui/paperless-mcp#10)': [
    'Failed',
    'Failed to pull image "ghcr.io/nloui/paperless-mcp:latest": failed to pull and unpack image "ghcr.io/nloui/paperless-mcp:latest": failed to resolve reference "ghcr.io/nloui/paperless-mcp:latest": failed to authorize: failed to fetch anonymous token: unexpected status from GET request to https://ghcr.io/token?scope=repository%3Anloui%2Fpaperless-mcp%3Apull&service=ghcr.io: 403 Forbidden',
    'unauthorized',
  ],
  'an oauth token refused with 401 (gitpod-io/gitpod#14837)': [
    'Failed',
    'Failed to pull image "proxy.replicated.com/proxy/gitpod/busybox:1": rpc error: code = Unknown desc = failed to pull and unpack image "proxy.replicated.com/proxy/gitpod/busybox:1": failed to resolve reference "proxy.replicated.com/proxy/gitpod/busybox:1": failed to authorize: failed to fetch oauth token: unexpected status: 401 Unauthorized',
    'unauthorized',
  ],
  'a Docker Hub private repository pulled anonymously: insufficient_scope (kubesphere/kubekey#1165)': [
    'Failed',
    'Failed to pull image "yhub.ssl.ysten.com/kube/pause:3.5": rpc error: code = Unknown desc = failed to pull and unpack image "yhub.ssl.ysten.com/kube/pause:3.5": failed to resolve reference "yhub.ssl.ysten.com/kube/pause:3.5": pull access denied, repository does not exist or may require authorization: server message: insufficient_scope: authorization failed',
    'unauthorized',
  ],
  'dockershim: pull access denied (octarinesec/octarine-operator#15)': [
    'Failed',
    'Failed to pull image "octarinesec/guardrails-enforcer:20.7": rpc error: code = Unknown desc = Error response from daemon: pull access denied for octarinesec/guardrails-enforcer, repository does not exist or may require \'docker login\': denied: requested access to the resource is denied',
    'unauthorized',
  ],
  'dockershim: unauthorized, authentication required (octarinesec/octarine-operator#15)': [
    'Failed',
    'Failed to pull image "octarinesec/guardrails-enforcer:20.7": rpc error: code = Unknown desc = Error response from daemon: unauthorized: authentication required',
    'unauthorized',
  ],
  'dockershim on ACR: authentication required on the manifest (dotnet/docs#13401)': [
    'Failed',
    'Failed to pull image "ugsampleacr.azurecr.io/mssampleaksapplication:v1": rpc error: code = Unknown desc = Error response from daemon: Get https://ugsampleacr.azurecr.io/v2/mssampleaksapplication/manifests/v1: unauthorized: authentication required',
    'unauthorized',
  ],
  'dockershim on ECR: no basic auth credentials': [
    'Failed',
    'Failed to pull image "123456789012.dkr.ecr.eu-west-1.amazonaws.com/app:1.0": rpc error: code = Unknown desc = Error response from daemon: Get https://123456789012.dkr.ecr.eu-west-1.amazonaws.com/v2/app/manifests/1.0: no basic auth credentials',
    'unauthorized',
  ],
  // --- not-found
  'containerd: a tag that does not exist, gRPC NotFound (sympozium-ai/sympozium#5)': [
    'Failed',
    'Failed to pull image "ghcr.io/alexsjones/sympozium/apiserver:v0.0.29": rpc error: code = NotFound desc = failed to pull and unpack image "ghcr.io/alexsjones/sympozium/apiserver:v0.0.29": failed to resolve reference "ghcr.io/alexsjones/sympozium/apiserver:v0.0.29": ghcr.io/alexsjones/sympozium/apiserver:v0.0.29: not found',
    'not-found',
  ],
  'containerd 2 without the rpc prefix: not found': [
    'Failed',
    'Failed to pull image "registry.example.com/team/app:1.0": failed to pull and unpack image "registry.example.com/team/app:1.0": failed to resolve reference "registry.example.com/team/app:1.0": registry.example.com/team/app:1.0: not found',
    'not-found',
  ],
  'dockershim: manifest unknown (kubevela/kubevela#981)': [
    'Failed',
    'Failed to pull image "oamdev/vela-core:0.3.1": rpc error: code = Unknown desc = Error response from daemon: manifest for oamdev/vela-core:0.3.1 not found: manifest unknown: manifest unknown',
    'not-found',
  ],
  'a kubelet from 2018 with a numeric gRPC code (aerokube/moon#43)': [
    'Failed',
    'Failed to pull image "aerokube/logger:cad1da0af14ee43856ce3ca635daf0e79ebb1fef": rpc error: code = 2 desc = manifest unknown: manifest unknown',
    'not-found',
  ],
  // --- rate-limited
  'Docker Hub 429 on a manifest by digest (namespacelabs/foundation#846)': [
    'Failed',
    'Failed to pull image "index.docker.io/jaegertracing/all-in-one@sha256:8d0bff43db3ce5c528cb6f957520511d263d7cceee012696e4afdc9087919bb9": rpc error: code = Unknown desc = failed to pull and unpack image "docker.io/jaegertracing/all-in-one@sha256:8d0bff43db3ce5c528cb6f957520511d263d7cceee012696e4afdc9087919bb9": failed to copy: httpReadSeeker: failed open: unexpected status code https://registry-1.docker.io/v2/jaegertracing/all-in-one/manifests/sha256:8d0bff43db3ce5c528cb6f957520511d263d7cceee012696e4afdc9087919bb9: 429 Too Many Requests - Server message: toomanyrequests: You have reached your pull rate limit. You may increase the limit by authenticating and upgrading: https://www.docker.com/increase-rate-limit',
    'rate-limited',
  ],
  'dockershim: toomanyrequests (ceph/ceph-csi#2029)': [
    'Failed',
    'Failed to pull image "docker.io/library/busybox:1.29": rpc error: code = Unknown desc = Error response from daemon: toomanyrequests: You have reached your pull rate limit. You may increase the limit by authenticating and upgrading: https://www.docker.com/increase-rate-limit',
    'rate-limited',
  ],
  // --- tls
  'containerd: registry certificate not trusted (cnoe-io/idpbuilder#520)': [
    'Failed',
    'Failed to pull image "registry.k8s.io/coredns/coredns:v1.11.1": failed to pull and unpack image "registry.k8s.io/coredns/coredns:v1.11.1": failed to resolve reference "registry.k8s.io/coredns/coredns:v1.11.1": failed to do request: Head "https://registry.k8s.io/v2/coredns/coredns/manifests/v1.11.1": tls: failed to verify certificate: x509: certificate signed by unknown authority',
    'tls',
  ],
  'dockershim: x509 inside a JSON message (kubernetes/kubernetes#43924)': [
    'Failed',
    'Failed to pull image "10.78.0.228:5000/monitorms": Error response from daemon: {"message":"Get https://10.78.0.228:5000/v1/_ping: x509: certificate signed by unknown authority"}',
    'tls',
  ],
  'a plain-HTTP registry asked for HTTPS': [
    'Failed',
    'Failed to pull image "10.0.0.5:5000/app:1": rpc error: code = Unknown desc = failed to pull and unpack image "10.0.0.5:5000/app:1": failed to resolve reference "10.0.0.5:5000/app:1": failed to do request: Head "https://10.0.0.5:5000/v2/app/manifests/1": http: server gave HTTP response to HTTPS client',
    'tls',
  ],
  // --- network
  'containerd: connection timed out (kubernetes/kubeadm#2936)': [
    'Failed',
    'Failed to pull image "registry.k8s.io/kube-proxy:v1.28.2": rpc error: code = Unknown desc = failed to pull and unpack image "registry.k8s.io/kube-proxy:v1.28.2": failed to resolve reference "registry.k8s.io/kube-proxy:v1.28.2": failed to do request: Head "https://registry.k8s.io/v2/kube-proxy/manifests/v1.28.2": dial tcp 34.96.108.209:443: connect: connection timed out',
    'network',
  ],
  'containerd: DNS lookup fails with no such host': [
    'Failed',
    'Failed to pull image "registry.internal.example/app:1.0": rpc error: code = Unknown desc = failed to pull and unpack image "registry.internal.example/app:1.0": failed to resolve reference "registry.internal.example/app:1.0": failed to do request: Head "https://registry.internal.example/v2/app/manifests/1.0": dial tcp: lookup registry.internal.example on 10.96.0.10:53: no such host',
    'network',
  ],
  'containerd: connection refused on a registry port': [
    'Failed',
    'Failed to pull image "127.0.0.1:5000/app:1": rpc error: code = Unknown desc = failed to pull and unpack image "127.0.0.1:5000/app:1": failed to resolve reference "127.0.0.1:5000/app:1": failed to do request: Head "https://127.0.0.1:5000/v2/app/manifests/1": dial tcp 127.0.0.1:5000: connect: connection refused',
    'network',
  ],
  'a token fetch that times out is the network, not the credential (ketches/registry-proxy#3)': [
    'Failed',
    'Failed to pull image "docker.ketches.cn/library/nginx:latest": rpc error: code = Unknown desc = failed to pull and unpack image "docker.ketches.cn/library/nginx:latest": failed to resolve reference "docker.ketches.cn/library/nginx:latest": failed to authorize: failed to fetch anonymous token: Get "https://auth.docker.io/token?scope=repository%3Alibrary%2Fnginx%3Apull&service=registry.docker.io": dial tcp 199.59.148.222:443: i/o timeout',
    'network',
  ],
  'a TLS handshake timeout is the network (gvenzl/oci-oracle-free#73)': [
    'Failed',
    'Failed to pull image "gvenzl/oracle-free:latest": failed to pull and unpack image "docker.io/gvenzl/oracle-free:latest": failed to resolve reference "docker.io/gvenzl/oracle-free:latest": failed to do request: Head "https://registry-1.docker.io/v2/gvenzl/oracle-free/manifests/latest": net/http: TLS handshake timeout',
    'network',
  ],
  'the kubelet names RegistryUnavailable from the runtime (evalCRIPullErr)': [
    'Failed',
    'Failed to pull image "registry.example.com/app:1": RegistryUnavailable: registry.example.com is down for maintenance',
    'network',
  ],
  // --- never-pull, invalid-name, secret-missing
  'an image absent from the node with pull policy Never (hystax/optscale#701)': [
    'ErrImageNeverPull',
    'Container image "error_pages:local" is not present with pull policy of Never',
    'never-pull',
  ],
  'a cached image the pod\'s credentials may not use (KubeletEnsureSecretPulledImages, 1.30 text)': [
    'ErrImageNeverPull',
    'Container image "registry.example.com/private/app:1" is present with pull policy of Never but does not have the proper auth (image secret) that was used to pull the image',
    'never-pull',
  ],
  'the kubelet summary line after ErrImageNeverPull': ['Failed', 'Error: ErrImageNeverPull', 'never-pull'],
  'an image string that does not parse (InspectFailed)': [
    'InspectFailed',
    'Failed to apply default image tag "Registry.Example.com/App:1": couldn\'t parse image name "Registry.Example.com/App:1": invalid reference format: repository name must be lowercase',
    'invalid-name',
  ],
  'the kubelet summary line after InvalidImageName': ['Failed', 'Error: InvalidImageName', 'invalid-name'],
  'a listed pull secret that does not exist (confluentinc/confluent-kubernetes-examples#276)': [
    'FailedToRetrieveImagePullSecret',
    'Unable to retrieve some image pull secrets (confluent-registry); attempting to pull the image may not succeed.',
    'secret-missing',
  ],
  // --- backoff and progress
  'a back-off event adds no cause of its own (ceph/ceph-csi#2029)': ['BackOff', 'Back-off pulling image "docker.io/library/busybox:1.29"', 'backoff'],
  'the kubelet summary line after ErrImagePull adds no cause': ['Failed', 'Error: ErrImagePull', 'backoff'],
  'the kubelet summary line after ImagePullBackOff adds no cause': ['Failed', 'Error: ImagePullBackOff', 'backoff'],
  'a back-off message that carries the last error (kubelet 1.31+) takes that error\'s cause': [
    'BackOff',
    'Back-off pulling image "registry.example.com/app:1": ErrImagePull: rpc error: code = NotFound desc = failed to pull and unpack image "registry.example.com/app:1": failed to resolve reference "registry.example.com/app:1": registry.example.com/app:1: not found',
    'not-found',
  ],
  'pulling (current kubelet)': ['Pulling', 'Pulling image "nginx:1.25"', 'pulling'],
  'pulling (kubelet before 1.15, lower case)': ['Pulling', 'pulling image "kubernetes/pause"', 'pulling'],
  'pulled, with size and timing': ['Pulled', 'Successfully pulled image "nginx:1.25" in 3.2s (3.2s including waiting). Image size: 72000000 bytes.', 'pulled'],
  'already present on the node': ['Pulled', 'Container image "nginx:1.25" already present on machine', 'pulled'],
  // --- recorded on the real node of issue 12 (kubelet v1.36.3, containerd 1.6.20, docker-registry 2.8.2; test/fixtures/kubelet-events)
  'containerd 1.6 without the rpc prefix: a 401 on the manifest of a registry with a port (real node)': [
    'Failed',
    'Failed to pull image "127.0.0.1:5001/team/row6-warn-app:1": failed to pull and unpack image "127.0.0.1:5001/team/row6-warn-app:1": failed to resolve reference "127.0.0.1:5001/team/row6-warn-app:1": pulling from host 127.0.0.1:5001 failed with status code [manifests 1]: 401 Unauthorized',
    'unauthorized',
  ],
  'a typo in the secret name, as the real node reports it': [
    'FailedToRetrieveImagePullSecret',
    'Unable to retrieve some image pull secrets (regcrd); attempting to pull the image may not succeed.',
    'secret-missing',
  ],
  'pull policy Never on the real node': ['ErrImageNeverPull', 'Container image "127.0.0.1:5001/team/row17-warn-app:1" is not present with pull policy of Never', 'never-pull'],
  'a malformed pull secret on the real node: the kubelet\'s Error: line carries the decoding error': ['Failed', 'Error: illegal base64 data at input byte 3', 'secret-malformed'],
  'a pull secret whose auth decodes without a colon (kubelet decodeDockerConfigFieldAuth)': ['Failed', 'Error: unable to parse auth field, must be formatted as base64(username:password)', 'secret-malformed'],
  'a pull secret that is not JSON (encoding/json)': ['Failed', "Error: invalid character 'h' looking for beginning of value", 'secret-malformed'],
  'a pull secret cut short (encoding/json)': ['Failed', 'Error: unexpected end of JSON input', 'secret-malformed'],
  'pulled on the real node': ['Pulled', 'Successfully pulled image "127.0.0.1:5001/team/row16-warn-app:1" in 2.208s (2.208s including waiting). Image size: 714013 bytes.', 'pulled'],
  // --- unknown
  'a pull failure whose text names no known cause': [
    'Failed',
    'Failed to pull image "registry.example.com/app:1": rpc error: code = Unknown desc = failed to pull and unpack image "registry.example.com/app:1": failed to extract layer sha256:abc: write /var/lib/containerd/tmp: no space left on device',
    'unknown',
  ],
};

for (const [name, [reason, message, cause]] of Object.entries(rows)) {
  t.test(`classifies ${name} as ${cause}`, async (t) => {
    t.equal(classifyPullEvent(reason, message)?.cause, cause);
  });
}

t.test('every public cause is covered by at least one real text', async (t) => {
  const seen = new Set(Object.values(rows).map(([, , cause]) => cause));
  for (const cause of PULL_EVENT_CAUSES) t.ok(seen.has(cause), cause);
});

t.test('the same runtime error gives the same cause with and without the rpc error prefix', async (t) => {
  const errors: Record<string, PullEventCause> = {
    'failed to pull and unpack image "r.io/a:1": failed to resolve reference "r.io/a:1": r.io/a:1: not found': 'not-found',
    'failed to pull and unpack image "r.io/a:1": failed to resolve reference "r.io/a:1": pulling from host r.io failed with status code [manifests 1]: 401 Unauthorized': 'unauthorized',
    'failed to pull and unpack image "r.io/a:1": failed to copy: httpReadSeeker: failed open: unexpected status code https://r.io/v2/a/manifests/1: 429 Too Many Requests': 'rate-limited',
    'failed to pull and unpack image "r.io/a:1": failed to resolve reference "r.io/a:1": failed to do request: Head "https://r.io/v2/a/manifests/1": tls: failed to verify certificate: x509: certificate signed by unknown authority': 'tls',
    'failed to pull and unpack image "r.io/a:1": failed to resolve reference "r.io/a:1": failed to do request: Head "https://r.io/v2/a/manifests/1": dial tcp 10.0.0.1:443: connect: no route to host': 'network',
  };
  for (const [error, cause] of Object.entries(errors)) {
    t.equal(classifyPullEvent('Failed', `Failed to pull image "r.io/a:1": ${error}`)?.cause, cause, `bare: ${cause}`);
    t.equal(classifyPullEvent('Failed', `Failed to pull image "r.io/a:1": rpc error: code = Unknown desc = ${error}`)?.cause, cause, `rpc: ${cause}`);
  }
});

t.test('reads the gRPC code, the HTTP status, the image and the bare error', async (t) => {
  const result = classifyPullEvent('Failed', rows['a Harbor 401 on the manifest through containerd (kubernetes/kubernetes#110675)']?.[1] ?? '');
  t.equal(result?.grpcCode, 'Unknown');
  t.equal(result?.httpStatus, 401);
  t.equal(result?.image, 'registry.app.xxx.net/XXXXX/partsgo42:GitActionsNew-2e7e78f');
  t.ok(result?.error?.startsWith('failed to pull and unpack image'), 'the error starts after the rpc prefix');
  const old = classifyPullEvent('Failed', 'Failed to pull image "a/b:1": rpc error: code = 5 desc = something');
  t.equal(old?.grpcCode, 'NotFound', 'numeric codes of old kubelets are named');
  t.equal(old?.cause, 'not-found', 'the gRPC code decides when the text names no cause');
});

t.test('a repository, tag or URL that spells a cause word does not steer the cause', async (t) => {
  const message =
    'Failed to pull image "registry.example.com/forbidden-unauthorized/app:notfound": rpc error: code = Unknown desc = failed to pull and unpack image "registry.example.com/forbidden-unauthorized/app:notfound": failed to resolve reference "registry.example.com/forbidden-unauthorized/app:notfound": failed to do request: Head "https://registry.example.com/v2/forbidden-unauthorized/app/manifests/notfound": dial tcp 10.1.1.1:443: connect: connection refused';
  t.equal(classifyPullEvent('Failed', message)?.cause, 'network');
  const tag = 'Failed to pull image "r.io/a:unauthorized": failed to pull and unpack image "r.io/a:unauthorized": failed to resolve reference "r.io/a:unauthorized": r.io/a:unauthorized: not found';
  t.equal(classifyPullEvent('Failed', tag)?.cause, 'not-found');
});

t.test('names the secrets the kubelet could not retrieve', async (t) => {
  const result = classifyPullEvent('FailedToRetrieveImagePullSecret', 'Unable to retrieve some image pull secrets (regcred, other-cred); attempting to pull the image may not succeed.');
  t.same(result?.secrets, ['regcred', 'other-cred']);
});

t.test('events that are not about pulling an image are not classified', async (t) => {
  t.equal(classifyPullEvent('Scheduled', 'Successfully assigned default/web to node-1'), undefined);
  t.equal(classifyPullEvent('BackOff', 'Back-off restarting failed container web in pod web_default(abc)'), undefined);
  t.equal(classifyPullEvent('Failed', 'Error: CreateContainerConfigError'), undefined);
  t.equal(classifyPullEvent('Failed', 'Error: failed to create containerd task: invalid character in mount options'), undefined, 'a start error that only mentions an invalid character');
  t.equal(classifyPullEvent('Started', 'Started container web'), undefined);
});

t.test('classifies container waiting states', async (t) => {
  const waiting: Record<string, readonly [string, string, PullEventCause | undefined]> = {
    'ErrImagePull with the bare runtime error': [
      'ErrImagePull',
      'rpc error: code = NotFound desc = failed to pull and unpack image "docker.io/library/nginx:9.9": failed to resolve reference "docker.io/library/nginx:9.9": docker.io/library/nginx:9.9: not found',
      'not-found',
    ],
    'ImagePullBackOff with only the back-off line': ['ImagePullBackOff', 'Back-off pulling image "nginx:9.9"', 'backoff'],
    'ImagePullBackOff carrying the last error (kubelet 1.31+)': [
      'ImagePullBackOff',
      'Back-off pulling image "r.io/a:1": ErrImagePull: failed to pull and unpack image "r.io/a:1": failed to resolve reference "r.io/a:1": pulling from host r.io failed with status code [manifests 1]: 401 Unauthorized',
      'unauthorized',
    ],
    'ErrImageNeverPull': ['ErrImageNeverPull', 'Container image "app:dev" is not present with pull policy of Never', 'never-pull'],
    'InvalidImageName': ['InvalidImageName', 'Failed to apply default image tag "A/B": couldn\'t parse image name "A/B": invalid reference format', 'invalid-name'],
    'RegistryUnavailable': ['RegistryUnavailable', 'image pull failed for r.io/a:1 because the registry is unavailable: down', 'network'],
    'a malformed pull secret: the real node puts the decoding error in the reason, and pulls nothing': ['illegal base64 data at input byte 3', 'illegal base64 data at input byte 3', 'secret-malformed'],
    'a pull secret of the wrong JSON shape, as a waiting reason': ['json: cannot unmarshal string into Go value of type credentialprovider.DockerConfigJSON', 'json: cannot unmarshal string into Go value of type credentialprovider.DockerConfigJSON', 'secret-malformed'],
    'another Go error as the reason stays unknown': ['failed to sync secret cache: timed out waiting for the condition', 'failed to sync secret cache: timed out waiting for the condition', 'unknown'],
    'ErrImagePull on the real node (containerd 1.6, no rpc prefix)': [
      'ErrImagePull',
      'failed to pull and unpack image "127.0.0.1:5002/tools/row20-warn-app:1": failed to resolve reference "127.0.0.1:5002/tools/row20-warn-app:1": pulling from host 127.0.0.1:5002 failed with status code [manifests 1]: 401 Unauthorized',
      'unauthorized',
    ],
    'CrashLoopBackOff is not about the image': ['CrashLoopBackOff', 'back-off 5m0s restarting failed container', undefined],
    'ContainerCreating is not about the image': ['ContainerCreating', '', undefined],
  };
  for (const [name, [reason, message, cause]] of Object.entries(waiting)) t.equal(classifyWaitingState(reason, message)?.cause, cause, name);
});

t.test('a message of megabytes is classified from its first 64 KiB only', async (t) => {
  const huge = 'Failed to pull image "r.io/a:1": ' + '"'.repeat(3_000_000) + ' 401 Unauthorized';
  const result = classifyPullEvent('Failed', huge);
  t.equal(result?.cause, 'unknown', 'the cause beyond the cut is not seen');
  t.ok((result?.error?.length ?? 0) <= MAX_CLASSIFIED_CHARS, 'the kept error is cut too');
});

// --- Both event APIs, as `kubectl get events -o yaml` prints them.

const v1Event = {
  apiVersion: 'v1',
  kind: 'Event',
  metadata: { name: 'web.17a', namespace: 'shop', creationTimestamp: '2026-12-03T07:00:00Z' },
  involvedObject: { kind: 'Pod', namespace: 'shop', name: 'web', uid: 'u1', fieldPath: 'spec.containers{app}' },
  reason: 'Failed',
  message: rows['containerd: a tag that does not exist, gRPC NotFound (sympozium-ai/sympozium#5)']?.[1],
  type: 'Warning',
  count: 4,
  firstTimestamp: '2026-12-03T07:00:00Z',
  lastTimestamp: '2026-12-03T07:03:00Z',
  source: { component: 'kubelet', host: 'node-1' },
};

const eventsV1Event = {
  apiVersion: 'events.k8s.io/v1',
  kind: 'Event',
  metadata: { name: 'web.17b', namespace: 'shop', creationTimestamp: '2026-12-03T07:00:00Z' },
  regarding: { kind: 'Pod', namespace: 'shop', name: 'web', uid: 'u1', fieldPath: 'spec.initContainers{init}' },
  reason: 'Failed',
  note: 'Failed to pull image "r.io/a:1": failed to pull and unpack image "r.io/a:1": failed to resolve reference "r.io/a:1": pulling from host r.io failed with status code [manifests 1]: 401 Unauthorized',
  type: 'Warning',
  eventTime: null,
  deprecatedCount: 7,
  deprecatedFirstTimestamp: '2026-12-03T07:00:00Z',
  deprecatedLastTimestamp: '2026-12-03T07:05:00Z',
  deprecatedSource: { component: 'kubelet', host: 'node-1' },
  reportingController: '',
};

t.test('reads a v1 Event: message, involvedObject, count and timestamps', async (t) => {
  const event = readEvent(v1Event);
  t.equal(event?.api, 'v1');
  t.equal(event?.count, 4);
  t.equal(event?.lastSeen, Date.parse('2026-12-03T07:03:00Z'));
  t.equal(event?.regarding.fieldPath, 'spec.containers{app}');
  t.equal(event?.source, 'kubelet');
  t.equal(classifyPullEvent(event?.reason ?? '', event?.message ?? '')?.cause, 'not-found');
});

t.test('reads an events.k8s.io/v1 Event: note, regarding, deprecatedCount and deprecated timestamps', async (t) => {
  const event = readEvent(eventsV1Event);
  t.equal(event?.api, 'events.k8s.io/v1');
  t.equal(event?.count, 7);
  t.equal(event?.lastSeen, Date.parse('2026-12-03T07:05:00Z'));
  t.equal(event?.regarding.fieldPath, 'spec.initContainers{init}');
  t.equal(event?.source, 'kubelet');
  t.equal(classifyPullEvent(event?.reason ?? '', event?.message ?? '')?.cause, 'unauthorized');
});

t.test('an events.k8s.io/v1 series counts and dates the repeats', async (t) => {
  const event = readEvent({ ...eventsV1Event, series: { count: 12, lastObservedTime: '2026-12-03T07:09:00.000000Z' } });
  t.equal(event?.count, 12);
  t.equal(event?.lastSeen, Date.parse('2026-12-03T07:09:00Z'));
});

t.test('reads Lists and EventLists of either API and skips what is not an Event', async (t) => {
  const events = readEvents([
    { apiVersion: 'v1', kind: 'List', items: [v1Event, { kind: 'Pod' }] },
    { apiVersion: 'events.k8s.io/v1', kind: 'EventList', items: [eventsV1Event] },
    v1Event,
    'not an object',
    { kind: 'List', items: 'broken' },
  ]);
  t.same(
    events.map((event) => event.api),
    ['v1', 'events.k8s.io/v1', 'v1'],
  );
});

t.test('a malformed Event reads as empty fields with a count of 1, never a crash', async (t) => {
  const event = readEvent({ kind: 'Event', apiVersion: 'v1', count: -3, lastTimestamp: 'yesterday', involvedObject: 'x', message: 42 });
  t.equal(event?.count, 1);
  t.equal(event?.lastSeen, undefined);
  t.equal(event?.message, '');
  t.equal(event?.regarding.name, '');
});

t.test('maps a field path to its container', async (t) => {
  t.same(containerOfFieldPath('spec.containers{web}'), { group: 'containers', name: 'web' });
  t.same(containerOfFieldPath('spec.initContainers{init}'), { group: 'initContainers', name: 'init' });
  t.same(containerOfFieldPath('spec.ephemeralContainers{debugger-x}'), { group: 'ephemeralContainers', name: 'debugger-x' });
  t.equal(containerOfFieldPath(''), undefined);
  t.equal(containerOfFieldPath('spec.volumes{x}'), undefined);
});
