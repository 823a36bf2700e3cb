#!/bin/bash
# LocalStack init hook (runs inside the container once LocalStack is READY):
# creates the same Kinesis stream and DynamoDB table as resources.js does for
# the Docker-free stack, unless they already exist, and waits until they are
# ACTIVE. Must stay executable (LocalStack skips shell hooks without +x).
set -euo pipefail

# awslocal is the AWS CLI pointed at this LocalStack; it still wants
# credentials and a region, which LocalStack accepts whatever they are.
export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-test}
export AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-test}
export AWS_DEFAULT_REGION=${AWS_DEFAULT_REGION:-us-east-1}

stream=${EVENTS_STREAM:-flash-sale-events}
table=${EVENTS_TABLE:-flash_sale_events}

if ! awslocal kinesis describe-stream-summary --stream-name "$stream" >/dev/null 2>&1; then
  # One provisioned shard, like kinesalite (which has no on-demand mode).
  awslocal kinesis create-stream --stream-name "$stream" --shard-count 1
fi
awslocal kinesis wait stream-exists --stream-name "$stream"

if ! awslocal dynamodb describe-table --table-name "$table" >/dev/null 2>&1; then
  awslocal dynamodb create-table \
    --table-name "$table" \
    --attribute-definitions AttributeName=sale_id,AttributeType=S AttributeName=sk,AttributeType=S \
    --key-schema AttributeName=sale_id,KeyType=HASH AttributeName=sk,KeyType=RANGE \
    --billing-mode PAY_PER_REQUEST >/dev/null
fi
awslocal dynamodb wait table-exists --table-name "$table"

echo "flashsale: stream $stream and table $table are ready"
