"""Local single-node Apache Kafka (KRaft) from Maven Central jars: fetch, format, start, stop."""
