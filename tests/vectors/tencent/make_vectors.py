"""Golden vectors for Tencent Cloud SMS (SendSms 2021-01-11, TC3-HMAC-SHA256), made with
tencentcloud-sdk-python (its common + sms packages). Run through ../make.sh. TEST CREDENTIALS
ONLY: the key below is made up and opens nothing.

- sdk_requests: requests the SDK sent (to a local capture server) with its Authorization.
- our_requests: the same SDK calls made with the parameters our adapter sends (code and
  lifetime as TemplateParamSet), so the test can check that our body carries the same values
  and that signing the SDK's bytes at its time gives its header.
"""

import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from capture import Capture  # noqa: E402

from tencentcloud.common import credential
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.sms.v20210111 import models, sms_client

SECRET_ID = "AKID-TEST-ONLY-not-a-real-key"
SECRET_KEY = "test-only-secret-0123456789abcdef"

CASES = [
    ("+8613800138000", "1400000001", "会员中心", "100001", "482913", 5),
    ("+85291234567", "1400000002", "Shop & Co. 测试", "100002", "000042", 10),
]


def calls():
    capture = Capture({"Response": {"SendStatusSet": [{
        "SerialNo": "5000:0000000000000000000000000000", "PhoneNumber": "+8613800138000",
        "Fee": 1, "SessionContext": "", "Code": "Ok", "Message": "send success",
        "IsoCode": "CN"}], "RequestId": "CAPTURE"}})
    http = HttpProfile(endpoint=f"127.0.0.1:{capture.port}")
    http.scheme = "http"
    client = sms_client.SmsClient(credential.Credential(SECRET_ID, SECRET_KEY), "ap-guangzhou",
                                  ClientProfile(httpProfile=http))
    for phone, app_id, sign_name, template, code, minutes in CASES:
        request = models.SendSmsRequest()
        request.PhoneNumberSet = [phone]
        request.SmsSdkAppId = app_id
        request.SignName = sign_name
        request.TemplateId = template
        request.TemplateParamSet = [code, str(minutes)]
        client.SendSms(request)
    capture.close()
    return capture.requests


if __name__ == "__main__":
    requests = calls()
    sdk = [{
        "headers": request["headers"],
        "body": request["body"],
    } for request in requests]
    ours = []
    for (phone, app_id, sign_name, template, code, minutes), request in zip(CASES, requests):
        ours.append({
            "host": request["headers"]["host"], "phone": phone.replace("+86", ""),
            "app_id": app_id, "sign_name": sign_name, "template_id": template,
            "code": code, "minutes": minutes, "body": request["body"],
            "timestamp": int(request["headers"]["x-tc-timestamp"]),
            "authorization": request["headers"]["authorization"],
        })
    vectors = {
        "about": "Made by tests/vectors/tencent/make_vectors.py with tencentcloud-sdk-python; "
                 "test credentials only.",
        "secret_id": SECRET_ID,
        "secret_key": SECRET_KEY,
        "sdk_requests": sdk,
        "our_requests": ours,
    }
    path = os.path.join(os.path.dirname(__file__), "vectors.json")
    with open(path, "w", encoding="utf-8") as file:
        json.dump(vectors, file, ensure_ascii=False, indent=2)
        file.write("\n")
    print(f"wrote {path}")
