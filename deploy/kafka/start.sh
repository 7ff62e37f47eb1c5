#!/usr/bin/env bash
# One KRaft node of the compose cluster (kafka-1..3), as broker and controller, with SASL/SCRAM
# and ACLs. The image's own entrypoint cannot give the super user a SCRAM credential at format
# time, which the brokers need to talk to each other, hence this script.
#
# Listeners: INTERNAL (9092, SCRAM-SHA-512): the services, `provision` and the other brokers;
# CONTROLLER (9093, PLAIN: KRaft controllers cannot use SCRAM); EXTERNAL (9094, SCRAM-SHA-512):
# members' ERPs and suppliers, advertised as KAFKA_EXTERNAL_HOST:KAFKA_ADVERTISED_PORT.
set -euo pipefail
: "${KAFKA_NODE_ID:?}" "${KAFKA_ADMIN_PASSWORD:?}" "${CLUSTER_ID:?}"
config=/var/lib/kafka/server.properties
admin=/var/lib/kafka/admin.properties
umask 077
cat > "$config" <<PROPERTIES
process.roles=broker,controller
node.id=${KAFKA_NODE_ID}
controller.quorum.voters=1@kafka-1:9093,2@kafka-2:9093,3@kafka-3:9093
listeners=INTERNAL://:9092,CONTROLLER://:9093,EXTERNAL://:9094
advertised.listeners=INTERNAL://kafka-${KAFKA_NODE_ID}:9092,EXTERNAL://${KAFKA_EXTERNAL_HOST}:${KAFKA_ADVERTISED_PORT}
listener.security.protocol.map=INTERNAL:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT,EXTERNAL:SASL_PLAINTEXT
inter.broker.listener.name=INTERNAL
controller.listener.names=CONTROLLER
sasl.enabled.mechanisms=SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.internal.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="${KAFKA_ADMIN_PASSWORD}";
listener.name.external.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
sasl.mechanism.controller.protocol=PLAIN
listener.name.controller.sasl.enabled.mechanisms=PLAIN
listener.name.controller.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="${KAFKA_ADMIN_PASSWORD}" user_admin="${KAFKA_ADMIN_PASSWORD}";
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:admin
allow.everyone.if.no.acl.found=false
log.dirs=/var/lib/kafka/data
auto.create.topics.enable=false
num.partitions=${ALLIANCE_TOPIC_PARTITIONS}
default.replication.factor=3
min.insync.replicas=2
unclean.leader.election.enable=false
offsets.topic.replication.factor=3
transaction.state.log.replication.factor=3
transaction.state.log.min.isr=2
share.coordinator.state.topic.replication.factor=3
share.coordinator.state.topic.min.isr=2
group.initial.rebalance.delay.ms=0
message.max.bytes=8388608
replica.fetch.max.bytes=8388608
log.retention.hours=${KAFKA_LOG_RETENTION_HOURS}
PROPERTIES
cat > "$admin" <<PROPERTIES
security.protocol=SASL_PLAINTEXT
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="${KAFKA_ADMIN_PASSWORD}";
PROPERTIES
# formats an empty volume only; the admin's credential is part of the first metadata
/opt/kafka/bin/kafka-storage.sh format --ignore-formatted --cluster-id "$CLUSTER_ID" --config "$config" \
    --add-scram "SCRAM-SHA-512=[name=admin,password=${KAFKA_ADMIN_PASSWORD}]"
exec /opt/kafka/bin/kafka-server-start.sh "$config"
