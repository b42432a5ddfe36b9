"""Golden vectors for Aliyun SMS (SendSms 2017-05-25, ACS3-HMAC-SHA256), made with Aliyun's
official SDK (alibabacloud-dysmsapi20170525 on alibabacloud-tea-openapi). Run through
../make.sh. TEST CREDENTIALS ONLY: the key below is made up and opens nothing.

- sdk_requests: requests the SDK itself sent (to a local capture server), with its
  Authorization header; our signer must compute the same header from the same request.
- our_requests: requests shaped as our adapter sends them (its headers, its parameters) at a
  fixed time and nonce, signed by the SDK's own signer (Utils.get_authorization).
"""

import datetime
import hashlib
import json
import os
import sys
import types

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from capture import Capture  # noqa: E402

from alibabacloud_dysmsapi20170525 import models
from alibabacloud_dysmsapi20170525.client import Client
from alibabacloud_tea_openapi import utils_models
from alibabacloud_tea_openapi.utils import Utils, get_canonical_query_string

ACCESS_KEY_ID = "LTAI-TEST-ONLY-not-a-real-key"
ACCESS_KEY_SECRET = "test-only-secret-0123456789abcdef"

SDK_CASES = [
    ("13800138000", "会员中心", "SMS_100000001", {"code": "482913"}),
    ("85291234567", "Shop & Co. 测试", "SMS_100000002", {"code": "007 ~*"}),
]

OUR_CASES = [
    ("dysmsapi.aliyuncs.com", "13800138000", "会员中心", "SMS_100000001", "482913",
     1767225600, "0f1e2d3c4b5a69788796a5b4c3d2e1f0"),
    ("127.0.0.1:18080", "+85291234567", "Shop & Co. 测试", "SMS_100000002", "000042",
     1767229199, "00112233445566778899aabbccddeeff"),
]


def sdk_requests():
    capture = Capture({"Code": "OK", "Message": "OK", "BizId": "900000000000000000^0",
                       "RequestId": "CAPTURE"})
    client = Client(utils_models.Config(
        access_key_id=ACCESS_KEY_ID, access_key_secret=ACCESS_KEY_SECRET,
        endpoint=f"127.0.0.1:{capture.port}", protocol="http"))
    for phone, sign_name, template, param in SDK_CASES:
        client.send_sms(models.SendSmsRequest(
            phone_numbers=phone, sign_name=sign_name, template_code=template,
            template_param=json.dumps(param, ensure_ascii=False)))
    capture.close()
    out = []
    for request in capture.requests:
        out.append({
            "method": request["method"],
            "path": request["path"],
            "query": request["query"],
            "headers": {k: v for k, v in request["headers"].items() if k != "authorization"},
            "body": request["body"],
            "authorization": request["headers"]["authorization"],
        })
    return out


def our_requests():
    out = []
    empty = hashlib.sha256(b"").hexdigest()
    for host, phone, sign_name, template, code, unix_time, nonce in OUR_CASES:
        date = datetime.datetime.fromtimestamp(unix_time, datetime.timezone.utc) \
            .strftime("%Y-%m-%dT%H:%M:%SZ")
        query = {
            "PhoneNumbers": phone.lstrip("+"),
            "SignName": sign_name,
            "TemplateCode": template,
            "TemplateParam": json.dumps({"code": code}, separators=(",", ":")),
        }
        headers = {
            "host": host,
            "x-acs-action": "SendSms",
            "x-acs-content-sha256": empty,
            "x-acs-date": date,
            "x-acs-signature-nonce": nonce,
            "x-acs-version": "2017-05-25",
        }
        request = types.SimpleNamespace(method="POST", pathname="/", query=query, headers=headers)
        out.append({
            "host": host, "phone": phone, "sign_name": sign_name, "template_code": template,
            "code": code, "unix_time": unix_time, "nonce": nonce, "date": date,
            "query": query,
            "canonical_query": get_canonical_query_string(query),
            "authorization": Utils.get_authorization(
                request, "ACS3-HMAC-SHA256", empty, ACCESS_KEY_ID, ACCESS_KEY_SECRET),
        })
    return out


if __name__ == "__main__":
    vectors = {
        "about": "Made by tests/vectors/aliyun/make_vectors.py with Aliyun's Python SDK; "
                 "test credentials only.",
        "access_key_id": ACCESS_KEY_ID,
        "access_key_secret": ACCESS_KEY_SECRET,
        "sdk_requests": sdk_requests(),
        "our_requests": our_requests(),
    }
    path = os.path.join(os.path.dirname(__file__), "vectors.json")
    with open(path, "w", encoding="utf-8") as file:
        json.dump(vectors, file, ensure_ascii=False, indent=2)
        file.write("\n")
    print(f"wrote {path}")
