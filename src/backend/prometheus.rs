//! `engine::Source` over the Prometheus HTTP API: one instant query per dimension.

use super::client::PromClient;
use super::query::{decode, dimension_query};
use crate::duration::PromDuration;
use crate::engine::{Measurement, Source, SourceError};
use crate::spec::{Dimension, ServiceSpec, SloSpec};

#[derive(Debug, Clone)]
pub struct PrometheusSource {
    client: PromClient,
}

impl PrometheusSource {
    pub fn new(client: PromClient) -> PrometheusSource {
        PrometheusSource { client }
    }

    pub fn client(&self) -> &PromClient {
        &self.client
    }
}

impl Source for PrometheusSource {
    async fn measure(
        &self,
        service: &ServiceSpec,
        slo: &SloSpec,
        dimension: Dimension,
        windows: &[PromDuration],
        at_ms: i64,
    ) -> Result<Measurement, SourceError> {
        let query = dimension_query(slo, dimension, windows);
        let result = self.client.instant(&query, at_ms).await?;
        for warning in &result.warnings {
            tracing::warn!(
                service = %service.service,
                slo = %slo.name,
                dimension = dimension.as_str(),
                "backend warning: {warning}"
            );
        }
        Ok(decode(dimension, windows, &result.samples))
    }
}
