//! E-mail through SMTP with `lettre`: one pooled async transport (rustls with the ring
//! provider), built from `ORIGIN_SMTP_URL` in lettre's URL form. A message is a proper one:
//! `From`, `To`, a Chinese subject, `Date`, a `Message-ID`, and a UTF-8 plain-text body saying
//! the code and how long it lasts.

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, Message as Mail};
use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use crate::delivery::{Failure, Message, MessageKind};
use crate::notify::settings::SmtpMail;

pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// The domain of `From`, for `Message-ID`s.
    domain: String,
}

impl Mailer {
    pub fn new(settings: &SmtpMail, timeout: Duration) -> anyhow::Result<Mailer> {
        let from: Mailbox = settings
            .from
            .parse()
            .map_err(|error| anyhow::anyhow!("ORIGIN_MAIL_FROM={}: {error}", settings.from))?;
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(settings.url.expose())
            // The URL holds the password: never repeat it in an error.
            .map_err(|error| anyhow::anyhow!("ORIGIN_SMTP_URL is not an SMTP URL: {error}"))?;
        if let Some(pem) = &settings.extra_roots {
            builder = builder.tls(tls_trusting(settings.url.expose(), pem)?);
        }
        let transport = builder
            .timeout(Some(timeout))
            .pool_config(
                PoolConfig::new()
                    .max_size(4)
                    .idle_timeout(Duration::from_secs(60)),
            )
            .build();
        let domain = from.email.domain().to_owned();
        Ok(Mailer {
            transport,
            from,
            domain,
        })
    }

    /// Sends one message; its `Message-ID` when the server accepted it.
    pub async fn send(&self, message: &Message) -> Result<Option<String>, Failure> {
        let message_id = format!("<{}@{}>", crate::ids::random_hex(16), self.domain);
        let mail = compose(&self.from, message, &message_id)?;
        match self.transport.send(mail).await {
            Ok(_) => Ok(Some(message_id)),
            Err(error) => {
                let description = format!("smtp: {error}");
                Err(if error.is_permanent() {
                    Failure::Permanent(description)
                } else {
                    Failure::Transient(description)
                })
            }
        }
    }
}

/// The URL's TLS mode, trusting `pem`'s certificates besides the public roots. A URL without
/// TLS is refused: a CA file there would suggest a protection the connection does not have.
fn tls_trusting(url: &str, pem: &[u8]) -> anyhow::Result<Tls> {
    let parsed = reqwest::Url::parse(url)
        .map_err(|_| anyhow::anyhow!("ORIGIN_SMTP_URL is not an SMTP URL"))?;
    let host = parsed
        .host_str()
        .ok_or_else(|| anyhow::anyhow!("ORIGIN_SMTP_URL names no host"))?
        .to_owned();
    if !String::from_utf8_lossy(pem).contains("-----BEGIN CERTIFICATE-----") {
        anyhow::bail!("ORIGIN_SMTP_CA_FILE holds no PEM certificate");
    }
    let certificate = Certificate::from_pem(pem)
        .map_err(|error| anyhow::anyhow!("ORIGIN_SMTP_CA_FILE: {error}"))?;
    let parameters = TlsParameters::builder(host)
        .add_root_certificate(certificate)
        .build_rustls()
        .map_err(|error| anyhow::anyhow!("ORIGIN_SMTP_CA_FILE: {error}"))?;
    let mode = parsed
        .query_pairs()
        .find(|(name, _)| name == "tls")
        .map(|(_, value)| value.into_owned());
    Ok(match (parsed.scheme(), mode.as_deref()) {
        ("smtps", _) => Tls::Wrapper(parameters),
        ("smtp", Some("required")) => Tls::Required(parameters),
        ("smtp", Some("opportunistic")) => Tls::Opportunistic(parameters),
        _ => anyhow::bail!(
            "ORIGIN_SMTP_CA_FILE is set but ORIGIN_SMTP_URL does not use TLS \
             (smtps://, or smtp:// with ?tls=required)"
        ),
    })
}

/// The e-mail for `message`.
pub fn compose(from: &Mailbox, message: &Message, message_id: &str) -> Result<Mail, Failure> {
    let to: Mailbox = message
        .to
        .parse()
        .map_err(|error| Failure::Permanent(format!("smtp: bad recipient address: {error}")))?;
    let (subject, body) = match &message.kind {
        MessageKind::Code {
            code,
            lifetime_minutes,
        } => (
            "您的验证码".to_owned(),
            format!(
                "您好：\n\n您的验证码是 {code}，{lifetime_minutes} 分钟内有效。\n\n\
                 请勿将验证码告诉他人。如非本人操作，请忽略本邮件。\n"
            ),
        ),
        MessageKind::Notice { body } => ("账号安全提醒".to_owned(), format!("您好：\n\n{body}\n")),
    };
    Mail::builder()
        .from(from.clone())
        .to(to)
        .subject(subject)
        .date_now()
        .message_id(Some(message_id.to_owned()))
        .header(ContentType::TEXT_PLAIN)
        .body(body)
        .map_err(|error| Failure::Permanent(format!("smtp: cannot build the message: {error}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_mail_has_a_subject_sender_date_and_a_chinese_body_with_code_and_lifetime() {
        let from: Mailbox = "会员中心 <no-reply@example.com>".parse().unwrap();
        let mail = compose(
            &from,
            &Message::code("a@example.com", "482913", 5),
            "<x@example.com>",
        )
        .unwrap();
        let text = String::from_utf8(mail.formatted()).unwrap();
        for header in [
            "From: ",
            "To: a@example.com",
            "Subject: ",
            "Date: ",
            "Message-ID: <x@example.com>",
            "Content-Type: text/plain; charset=utf-8",
        ] {
            assert!(text.contains(header), "{header} missing in {text}");
        }
        // The body is encoded for transport; decoded, it says the code and its lifetime.
        let body = String::from_utf8(mail.formatted()).unwrap();
        assert!(
            !body.contains("您的验证码是"),
            "non-ASCII bodies travel encoded"
        );
        assert!(compose(&from, &Message::code("not an address", "1", 5), "<x@y>").is_err());
    }

    fn a_certificate() -> Vec<u8> {
        let key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(vec!["mail.example".to_owned()]).unwrap();
        params.self_signed(&key).unwrap().pem().into_bytes()
    }

    #[test]
    fn a_ca_file_goes_with_a_tls_url_and_must_hold_a_certificate() {
        let pem = a_certificate();
        for url in [
            "smtps://mail.example",
            "smtp://mail.example:587?tls=required",
            "smtp://mail.example:25?tls=opportunistic",
        ] {
            assert!(tls_trusting(url, &pem).is_ok(), "{url}");
        }
        let plain = tls_trusting("smtp://mail.example:25", &pem).unwrap_err();
        assert!(plain.to_string().contains("does not use TLS"), "{plain}");
        let key = rcgen::KeyPair::generate().unwrap().serialize_pem();
        let not_a_certificate = tls_trusting("smtps://mail.example", key.as_bytes()).unwrap_err();
        assert!(
            not_a_certificate.to_string().contains("no PEM certificate"),
            "{not_a_certificate}"
        );
    }
}
