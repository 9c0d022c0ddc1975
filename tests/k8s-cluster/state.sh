#!/bin/sh
# state.sh -- what a cluster run could change on the machine, one sorted line per fact.
#
#   tests/k8s-cluster/state.sh WORK
#
# Run before and after a run (outside its namespaces) and compare: firewall rules (nft-backed
# and legacy iptables, counters stripped), links, addresses, routes, named network namespaces,
# conntrack entries of the cluster's ranges, the kernel tunables the kubelet and kube-proxy
# set, mounts, cgroups, the paths the kubelet, containerd and CNI use by default, and
# processes naming files under WORK. cluster.sh exports SX_CGROOT (its cgroup tree's name) first.
work=$1
{
	for t in iptables-nft-save ip6tables-nft-save iptables-legacy-save ip6tables-legacy-save; do
		command -v $t >/dev/null && $t 2>/dev/null | grep -v '^#' |
			sed -E 's/\[[0-9]+:[0-9]+\]//; s/^/rules '"$t"': /'
	done
	ip -o link show | awk '{print "link " $2}'
	ip -o addr show | awk '{print "addr " $2 " " $4}'
	ip route show table all | sed 's/^/route /'
	ls /run/netns 2>/dev/null | sed 's/^/netns /'
	echo "conntrack $(conntrack -L 2>/dev/null | grep -cE '10\.244\.|10\.96\.|198\.18\.')"
	for s in vm/overcommit_memory vm/panic_on_oom kernel/panic kernel/panic_on_oops \
		kernel/keys/root_maxkeys kernel/keys/root_maxbytes net/ipv4/ip_forward \
		net/ipv4/conf/all/route_localnet net/netfilter/nf_conntrack_max \
		net/netfilter/nf_conntrack_tcp_timeout_established \
		net/netfilter/nf_conntrack_tcp_timeout_close_wait net/bridge/bridge-nf-call-iptables; do
		echo "sysctl $s=$(cat /proc/sys/$s 2>/dev/null)"
	done
	awk '{print "mount " $5 " " $9}' /proc/self/mountinfo
	# Another cluster run at the same time (a second suite on the machine) has a tree of its own,
	# sx-cluster-ITS_PID: not this run's doing. This run's own tree ($SX_CGROOT) is compared.
	find /sys/fs/cgroup -mindepth 2 -maxdepth 2 -type d |
		awk -v own="${SX_CGROOT:-}" '{ n = $0; sub(".*/", "", n) }
			n ~ /^sx-cluster-[0-9]+$/ && n != own { next } { print "cgroup " $0 }'
	for p in /var/log/pods /var/log/containers /var/lib/cni /var/lib/kubelet /var/lib/containerd \
		/run/containerd /run/netns /etc/cni /opt/cni /usr/libexec/kubernetes /etc/kubernetes; do
		[ -e "$p" ] && echo "path $p"
	done
	for d in /proc/[0-9]*; do
		cmd=$(tr '\0' ' ' 2>/dev/null <"$d/cmdline")
		case $cmd in *"$work/"*) echo "process ${d#/proc/} $cmd" ;; esac
	done
} | sort
