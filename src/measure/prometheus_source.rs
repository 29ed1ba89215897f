//! `engine::Source` over the backend: one instant query per dimension, the one `check`
//! sends (the daemon batches many dimensions per request through `direct`).

use super::direct::{BatchItem, measure_one};
use crate::backend::PromClient;
use crate::engine::{Grouped, Source, SourceError};
use crate::spec::{Dimension, SloSpec};

#[derive(Debug, Clone)]
pub(crate) struct PrometheusSource {
    client: PromClient,
}

impl PrometheusSource {
    pub(crate) fn new(client: PromClient) -> PrometheusSource {
        PrometheusSource { client }
    }

    pub(crate) fn client(&self) -> &PromClient {
        &self.client
    }
}

impl Source for PrometheusSource {
    async fn measure(
        &self,
        slo: &SloSpec,
        dimension: Dimension,
        at_ms: i64,
    ) -> Result<Grouped, SourceError> {
        measure_one(&self.client, BatchItem::new(slo, dimension), at_ms).await
    }
}
