#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Fixtures for kube_fake.py at cluster scale, shaped like a real cluster's.

    kube_scale_gen.py DIR [--services N] [--pods-per-service M] [--routed R]
                          [--burst B]

Writes DIR/{services,endpointslices,pods,destinationrules,virtualservices}.json:
N Services in 10 namespaces, M Pods each (half version v1, half v2), one
EndpointSlice per Service, and a VirtualService and a DestinationRule
(80/20 between v1 and v2) for the first R Services. With --burst, also
DIR/pod_burst.json: B MODIFIED events for pods across every Service, as a
rollout makes them (a new pod-template-hash label, a restart), for
kube_fake.py's /_ctl/events. The objects carry what
an API server sends and sluice does not read: managedFields, annotations
(last-applied-configuration), owner references, the containers' env,
resources, volume mounts and probes, the pods' container statuses, so that
what sluice keeps of them is measured, not what the fixtures leave out.

Service i is svc-i in namespace ns-(i % 10), VIP 10.100.(i / 256).(i % 256);
its pod j is svc-i-j, address 10.64.(k / 256).(k % 256) with k = i * M + j.
"""
import argparse
import json
import os

CREATED = "2024-01-01T00:00:00Z"


def managed_fields(manager):
    return [{"manager": manager, "operation": "Update", "apiVersion": "v1",
             "time": CREATED, "fieldsType": "FieldsV1",
             "fieldsV1": {"f:metadata": {"f:labels": {".": {}, "f:app": {}, "f:version": {}}},
                          "f:spec": {"f:containers": {'k:{"name":"app"}': {
                              ".": {}, "f:image": {}, "f:imagePullPolicy": {}, "f:name": {},
                              "f:ports": {".": {}, 'k:{"containerPort":8080,"protocol":"TCP"}': {
                                  ".": {}, "f:containerPort": {}, "f:name": {}, "f:protocol": {}}},
                              "f:resources": {}, "f:terminationMessagePath": {}}}},
                          "f:status": {"f:conditions": {}, "f:containerStatuses": {},
                                       "f:podIP": {}, "f:podIPs": {}, "f:startTime": {}}}}]


def pod_ip(k):
    return "10.64.%d.%d" % (k // 256, k % 256)


def pod(i, j, m):
    ns, app, k = "ns-%d" % (i % 10), "svc-%d" % i, i * m + j
    version = "v1" if j < (m + 1) // 2 else "v2"
    name = "%s-%d" % (app, j)
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": name, "namespace": ns, "generateName": app + "-",
            "uid": "00000000-0000-4000-8000-%012d" % k, "creationTimestamp": CREATED,
            "labels": {"app": app, "version": version, "pod-template-hash": "5d8f7c9b%02d" % j},
            "annotations": {
                "kubectl.kubernetes.io/restartedAt": CREATED,
                "prometheus.io/scrape": "true", "prometheus.io/port": "9090",
            },
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                 "name": app + "-5d8f7c9b", "uid": "rs-%d" % i,
                                 "controller": True, "blockOwnerDeletion": True}],
            "managedFields": managed_fields("kube-controller-manager"),
        },
        "spec": {
            "containers": [{
                "name": "app", "image": "registry.example.com/%s:1.%d" % (app, j % 3),
                "imagePullPolicy": "IfNotPresent",
                "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"},
                          {"name": "metrics", "containerPort": 9090, "protocol": "TCP"}],
                "env": [{"name": "SERVICE", "value": app}, {"name": "VERSION", "value": version},
                        {"name": "POD_NAME", "valueFrom": {"fieldRef": {
                            "apiVersion": "v1", "fieldPath": "metadata.name"}}}],
                "resources": {"requests": {"cpu": "100m", "memory": "128Mi"},
                              "limits": {"memory": "256Mi"}},
                "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http",
                                               "scheme": "HTTP"},
                                   "periodSeconds": 5, "failureThreshold": 3},
                "volumeMounts": [{"name": "kube-api-access", "readOnly": True,
                                  "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}],
                "terminationMessagePath": "/dev/termination-log",
                "terminationMessagePolicy": "File",
            }],
            "volumes": [{"name": "kube-api-access", "projected": {"defaultMode": 420, "sources": [
                {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                {"configMap": {"name": "kube-root-ca.crt",
                               "items": [{"key": "ca.crt", "path": "ca.crt"}]}}]}}],
            "nodeName": "node-%d" % (k % 50), "serviceAccountName": "default",
            "restartPolicy": "Always", "dnsPolicy": "ClusterFirst", "schedulerName":
            "default-scheduler", "terminationGracePeriodSeconds": 30,
            "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists",
                             "effect": "NoExecute", "tolerationSeconds": 300}],
        },
        "status": {
            "phase": "Running", "qosClass": "Burstable", "startTime": CREATED,
            "hostIP": "192.168.%d.%d" % (k % 50 // 250, k % 50 + 1),
            "podIP": pod_ip(k), "podIPs": [{"ip": pod_ip(k)}],
            "conditions": [{"type": t, "status": "True", "lastProbeTime": None,
                            "lastTransitionTime": CREATED}
                           for t in ("Initialized", "Ready", "ContainersReady", "PodScheduled")],
            "containerStatuses": [{
                "name": "app", "ready": True, "restartCount": 0, "started": True,
                "image": "registry.example.com/%s:1.%d" % (app, j % 3),
                "imageID": "registry.example.com/%s@sha256:%064x" % (app, k),
                "containerID": "containerd://%064x" % (k * 7919),
                "state": {"running": {"startedAt": CREATED}}, "lastState": {},
            }],
        },
    }


def service(i):
    ns, app = "ns-%d" % (i % 10), "svc-%d" % i
    vip = "10.100.%d.%d" % (i // 256, i % 256)
    return {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": app, "namespace": ns, "uid": "svc-uid-%d" % i,
                     "creationTimestamp": CREATED, "labels": {"app": app},
                     "annotations": {"kubectl.kubernetes.io/last-applied-configuration":
                                     json.dumps({"apiVersion": "v1", "kind": "Service",
                                                 "metadata": {"name": app, "namespace": ns},
                                                 "spec": {"selector": {"app": app}}})},
                     "managedFields": managed_fields("kubectl-client-side-apply")},
        "spec": {"type": "ClusterIP", "clusterIP": vip, "clusterIPs": [vip],
                 "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
                 "internalTrafficPolicy": "Cluster", "sessionAffinity": "None",
                 "selector": {"app": app},
                 "ports": [{"name": "http", "port": 80, "protocol": "TCP",
                            "targetPort": "http"}]},
        "status": {"loadBalancer": {}},
    }


def slice_of(i, m):
    ns, app = "ns-%d" % (i % 10), "svc-%d" % i
    return {
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": app + "-x7k2p", "namespace": ns, "generateName": app + "-",
                     "creationTimestamp": CREATED,
                     "labels": {"kubernetes.io/service-name": app,
                                "endpointslice.kubernetes.io/managed-by":
                                "endpointslice-controller.k8s.io"},
                     "annotations": {"endpoints.kubernetes.io/last-change-trigger-time": CREATED},
                     "ownerReferences": [{"apiVersion": "v1", "kind": "Service", "name": app,
                                          "uid": "svc-uid-%d" % i, "controller": True,
                                          "blockOwnerDeletion": True}],
                     "managedFields": managed_fields("endpointslice-controller.k8s.io")},
        "addressType": "IPv4",
        "endpoints": [{"addresses": [pod_ip(i * m + j)],
                       "conditions": {"ready": True, "serving": True, "terminating": False},
                       "nodeName": "node-%d" % ((i * m + j) % 50), "zone": "zone-a",
                       "targetRef": {"kind": "Pod", "namespace": ns, "name": "%s-%d" % (app, j),
                                     "uid": "00000000-0000-4000-8000-%012d" % (i * m + j)}}
                      for j in range(m)],
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
    }


def routed(i):
    ns, app = "ns-%d" % (i % 10), "svc-%d" % i
    vs = {"apiVersion": "networking.istio.io/v1beta1", "kind": "VirtualService",
          "metadata": {"name": app, "namespace": ns, "creationTimestamp": CREATED,
                       "managedFields": managed_fields("kubectl")},
          "spec": {"hosts": [app], "http": [{"name": "split", "route": [
              {"destination": {"host": app, "subset": "v1"}, "weight": 80},
              {"destination": {"host": app, "subset": "v2"}, "weight": 20}]}]}}
    dr = {"apiVersion": "networking.istio.io/v1beta1", "kind": "DestinationRule",
          "metadata": {"name": app, "namespace": ns, "creationTimestamp": CREATED},
          "spec": {"host": app, "subsets": [{"name": "v1", "labels": {"version": "v1"}},
                                            {"name": "v2", "labels": {"version": "v2"}}]}}
    return vs, dr


def rolled(p):
    p = json.loads(json.dumps(p))
    p["metadata"]["labels"]["pod-template-hash"] = "7c4d9f6b00"
    p["status"]["containerStatuses"][0]["restartCount"] = 1
    return p


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--services", type=int, default=1000)
    ap.add_argument("--pods-per-service", type=int, default=10)
    ap.add_argument("--routed", type=int, default=5)
    ap.add_argument("--burst", type=int, default=0)
    a = ap.parse_args()
    n, m = a.services, a.pods_per_service
    os.makedirs(a.dir, exist_ok=True)
    rs = [routed(i) for i in range(min(a.routed, n))]
    out = {
        "services": [service(i) for i in range(n)],
        "endpointslices": [slice_of(i, m) for i in range(n)],
        "pods": [pod(i, j, m) for i in range(n) for j in range(m)],
        "virtualservices": [vs for vs, _ in rs],
        "destinationrules": [dr for _, dr in rs],
    }
    if a.burst:
        step = max(1, len(out["pods"]) // a.burst)
        out["pod_burst"] = [{"type": "MODIFIED", "object": rolled(p)}
                            for p in out["pods"][::step][:a.burst]]
    for name, objs in out.items():
        with open(os.path.join(a.dir, name + ".json"), "w") as f:
            # dumps: dump() encodes in Python, several times slower
            f.write(json.dumps(objs, separators=(",", ":")))


if __name__ == "__main__":
    main()
